"""``AgreedClock``: the room's time is one that a majority of its newest sources reached."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from features.state.clock import SOURCES, AgreedClock, agreeing
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
