"""``AgreedClock``: the room's time is one that two distinct sources have reached."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.state.clock import AgreedClock
from tests.features.state.helpers import PROPERTY

EVENTS = st.lists(st.tuples(st.sampled_from(["", "u-1", "u-2", "u-3", "u-4"]),
                            st.integers(0, 1_000)), max_size=60)


@PROPERTY
@given(EVENTS)
def test_the_agreed_time_is_the_second_highest_of_the_sources_newest_times(
    events: list[tuple[str, int]]
) -> None:
    clock, newest = AgreedClock(), {}
    for source, ts in events:
        newest[source] = max(newest.get(source, -1), ts)
        expected = sorted(newest.values())[-2] if len(newest) > 1 else -1
        assert clock.observe(ts, source) == expected


@PROPERTY
@given(EVENTS, st.integers(0, 10**9))
def test_one_source_alone_never_moves_the_agreed_time(
    events: list[tuple[str, int]], jump: int
) -> None:
    clock = AgreedClock()
    for source, ts in events:
        clock.observe(ts, source)
    before = clock.time
    for k in range(5):  # the jumper's clock runs ahead, again and again
        clock.observe(1_000 + jump + k * 599_000, "attacker")
    honest = max((ts for _, ts in events), default=-1)  # the newest anyone else reached
    assert clock.time == honest >= before


def test_a_quiet_room_with_one_viewer_moves_with_the_platform() -> None:
    clock = AgreedClock()
    clock.observe(0, "")  # the showcase
    for ts in range(1_000, 600_000, 30_000):  # the lone viewer's heartbeats
        assert clock.observe(ts, "u-1") == 0
    assert clock.observe(700_000, "") == 571_000  # the next showcase: the viewer's newest
