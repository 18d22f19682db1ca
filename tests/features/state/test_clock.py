"""``AgreedClock``: the room's time is one that a majority of its newest sources reached."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import features.state.clock as clock_module
from features.state.clock import (
    RECOUNT,
    SOURCES,
    AgreedClock,
    ClockBound,
    RecentSources,
    agreeing,
    recent_majority,
    recent_majority_reference,
)
from tests.features.state.helpers import PROPERTY

STALE_MS = 100
EVENTS = st.lists(st.tuples(st.sampled_from([""] + [f"u-{n}" for n in range(12)]),
                            st.integers(0, 1_000)), max_size=120)


def _oracle(events: list[tuple[str, int]]) -> list[int]:
    """The readable twin: each source's newest time (an event older than the platform's
    newest by ``STALE_MS`` not counted); the sources the platform has not left behind, newest
    first, the first ``SOURCES`` of them; the time a majority of those reached."""
    newest: dict[str, int] = {}
    platform = -1
    times = []
    for source, ts in events:
        if ts >= platform - STALE_MS:
            newest[source] = max(newest.get(source, -1), ts)
        if source == "":
            platform = max(platform, ts)
        kept = sorted((t for t in newest.values() if t >= platform - STALE_MS),
                      reverse=True)[:SOURCES]
        times.append(kept[agreeing(len(kept)) - 1] if len(kept) >= 2 else -1)
    return times


@PROPERTY
@given(EVENTS)
def test_the_agreed_time_is_what_a_majority_of_the_newest_sources_reached(
    events: list[tuple[str, int]]
) -> None:
    clock = AgreedClock(STALE_MS)
    assert [clock.observe(ts, source) for source, ts in events] == _oracle(events)


@PROPERTY
@given(EVENTS, st.integers(0, 10**9))
def test_accounts_fewer_than_the_honest_sources_kept_never_move_the_agreed_time(
    events: list[tuple[str, int]], jump: int
) -> None:
    clock = AgreedClock(STALE_MS)
    for source, ts in events:
        clock.observe(ts, source)
    honest = len(clock.newest)
    jumpers = min(honest - 1, SOURCES - honest)  # fewer than the honest, and room for all
    assume(jumpers >= 1)
    for k in range(5):  # they jump together, again and again
        for n in range(jumpers):
            clock.observe(1_000 + jump + k * 599_000, f"attacker-{n}")
    assert clock.time <= max(ts for _, ts in events)


def test_it_takes_a_majority_of_the_eight_newest_sources_to_move_the_time() -> None:
    clock = AgreedClock(90_000)
    for n in range(30):  # thirty viewers heard at 1,000..30,000 ms
        clock.observe(1_000 * (n + 1), f"u-{n}")
    for jumper in ("a", "b", "c", "d"):  # four accounts jump together
        assert clock.observe(10**9, jumper) <= 30_000  # five of the eight kept are honest
    assert clock.observe(10**9, "e") == 10**9  # the fifth is the majority


def test_at_a_rooms_start_two_accounts_do_not_move_the_time() -> None:
    clock = AgreedClock(90_000)
    clock.observe(0, "")  # the first showcase
    assert clock.observe(600_000, "a") == 0  # two known: both
    assert clock.observe(600_000, "b") == 0  # three known: all three
    assert clock.observe(1_000, "u-1") == 1_000  # four known: three of them


def test_a_quiet_room_with_one_viewer_moves_with_the_platform() -> None:
    clock = AgreedClock(90_000)
    clock.observe(0, "")  # the showcase
    for ts in range(1_000, 700_000, 30_000):  # the lone viewer's heartbeats
        assert clock.observe(ts, "u-1") == 0
    assert clock.observe(700_000, "") == 691_000  # the next showcase: the viewer's newest


def test_those_the_platform_left_behind_no_longer_hold_the_time_back() -> None:
    clock = AgreedClock(90_000)
    clock.observe(0, "")
    for n in range(6):  # six viewers, then four of them leave
        clock.observe(1_000 + n, f"u-{n}")
    for ts in range(30_000, 600_000, 30_000):  # two stay
        clock.observe(ts, "u-0")
        clock.observe(ts, "u-1")
    assert clock.time == 1_004  # four of seven: the leavers hold it
    assert clock.observe(600_000, "") == 570_000  # the next showcase: they have left
    assert [src for _, src in clock.newest] == ["", "u-0", "u-1"]


# -- the bound: no further than the slack past what a majority of everyone heard reached ----
WINDOW, SLACK = 90_000, 45_000


@PROPERTY
@given(st.lists(st.integers(0, 10_000), max_size=60), st.integers(-1, 10_000),
       st.integers(0, 10_000))
def test_the_recent_majority_is_its_readable_twin(
    seen: list[int], platform: int, cutoff: int
) -> None:
    assert (recent_majority(np.array(seen, dtype=np.int64), platform, cutoff)
            == recent_majority_reference(seen, platform, cutoff))


class BoundedRoom:
    """The room's time as ``models.room.Room`` keeps it: the newest sources' agreed time,
    held to the bound, never going back; ``last_seen`` as the viewers' table keeps it."""

    def __init__(self) -> None:
        self.agreed, self.bound = AgreedClock(WINDOW), ClockBound(WINDOW, SLACK)
        self.clock, self.seen, self.binds = 0, dict[str, int](), 0

    def observe(self, ts: int, source: str) -> int:
        candidate = self.agreed.observe(ts, source)
        if candidate > self.clock:
            capped = candidate
            if candidate > self.bound.limit:
                viewers = np.array(list(self.seen.values()), dtype=np.int64)
                rows = list(self.seen)
                row = rows.index(source) if source in self.seen else None
                capped = (self.bound.cap_viewer(candidate, self.clock, viewers,
                                                self.agreed.platform, row, ts) if source
                          else self.bound.cap(candidate, self.clock, viewers,
                                              self.agreed.platform))
            self.binds += capped < candidate
            self.clock = max(self.clock, capped)
        if source:
            self.seen[source] = max(self.seen.get(source, ts), ts)
        return self.clock


def heartbeats(viewers: int, until: int, every: int = 30_000) -> list[tuple[int, str]]:
    """``viewers`` viewers each heard every ``every`` ms, spread evenly, from a showcase at 0."""
    beats = [(t + n * every // viewers, f"u-{n}") for t in range(0, until, every)
             for n in range(viewers)]
    return [(0, ""), *sorted(beats)]


def test_a_clean_room_runs_free_of_the_bound() -> None:
    room = BoundedRoom()
    times = [room.observe(ts, source) for ts, source in heartbeats(40, 900_000)]
    assert room.binds == 0 and times[-1] >= 899_000 - 30_000


@pytest.mark.parametrize("jumpers", [5, 10, 19])
def test_accounts_fewer_than_the_audience_hold_the_time_within_the_slack(jumpers: int) -> None:
    """Five accounts ahead are a majority of the eight newest sources in any room; against
    everyone heard lately they are few, and the room's time stays near the audience's."""
    room = BoundedRoom()
    candidates = []
    for ts, source in heartbeats(40, 900_000):
        room.observe(ts, source)
        if ts >= 120_000 and ts % 10_000 < 750 and source == "u-0":  # every 30 s, once in
            for k in range(jumpers):
                candidates.append(room.agreed.observe(ts + 599_000, f"attacker-{k}"))
                room.observe(ts + 599_000, f"attacker-{k}")
            assert room.clock <= ts + SLACK, ts
    assert max(candidates) > 900_000  # the newest sources alone would have jumped


def test_a_binding_bound_is_recounted_once_per_eighth_of_its_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted = []
    original = clock_module.recent_majority

    def counting(*args: object) -> tuple[int | None, int]:
        result = original(*args)  # type: ignore[arg-type]
        counted.append(result[1])
        return result

    monkeypatch.setattr(clock_module, "recent_majority", counting)
    bound = ClockBound(WINDOW, SLACK)
    seen = np.arange(150_000, 200_000, 500, dtype=np.int64)  # 100 viewers heard lately
    majority, _ = recent_majority_reference([*seen.tolist(), 800_000], -1, 200_000 - WINDOW)
    assert majority is not None
    for step in range(1_000):  # an account 599 s ahead at each of 1,000 events
        assert bound.cap_viewer(800_000 + step, 200_000, seen, -1, None,
                                800_000) == majority + SLACK
    assert counted == [101] * len(counted)  # the hundred and the account
    assert len(counted) <= 1_000 // (101 // RECOUNT) + 1
    fresh = ClockBound(WINDOW, SLACK)
    fresh.cap_viewer(900_000, 200_000, seen, -1, None, 900_000)
    assert fresh.wait == 101 // RECOUNT  # a viewer's next events wait ...
    before = len(counted)
    fresh.cap(900_000, 200_000, seen, 200_000)  # ... the platform's is recounted at once
    assert len(counted) == before + 1


@PROPERTY
@given(st.lists(st.integers(0, 10_000), max_size=40), st.integers(0, 20), st.data())
def test_accounts_fewer_than_the_audience_heard_lately_never_make_a_trigger_late(
    honest: list[int], accounts: int, data: st.DataObject
) -> None:
    """Red team 12's "not caught": accounts ahead, in one burst just before the trigger at
    10 000, are the sources applied last. The trigger is late only if they are as many as
    a majority of everyone heard lately; an audience that passed it makes it late still."""
    recent = RecentSources()
    for n, ts in enumerate(honest):
        recent.observe(ts, f"u-{n}")
    ahead = data.draw(st.lists(st.integers(10_001, 10**9), min_size=accounts,
                               max_size=accounts))
    for n, ts in enumerate(ahead):  # the burst: applied last
        recent.observe(ts, f"fast-{n}")
    seen = np.array([*honest, *ahead], dtype=np.int64)
    known = len(seen)
    late = recent.late(10_000, seen, -1, 0)
    if all(ts <= 10_000 for ts in honest) and known >= 3:
        assert late == (accounts >= agreeing(known) and recent.passed(10_000))
    if all(ts > 10_000 for ts in honest) and known:  # everyone heard passed it
        assert late
