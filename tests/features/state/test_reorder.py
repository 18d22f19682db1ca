"""``ReorderBuffer``: late events refused, held ones released in (ts, arrival) order, once each."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from features.state.reorder import ReorderBuffer
from tests.features.state.helpers import PROPERTY


@dataclass
class Ev:
    ts: int
    n: int


def test_release_in_ts_then_arrival_order_after_watermark() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=100)
    arrivals = [Ev(1_000, 0), Ev(950, 1), Ev(1_000, 2), Ev(900, 3), Ev(1_050, 4)]
    assert all(buf.offer(e) for e in arrivals)
    # newest 1 050, watermark 950: 900 and 950 only
    assert [e.n for e in buf.release()] == [3, 1]
    assert len(buf) == 3
    assert buf.release() == []
    assert buf.offer(Ev(1_200, 5))  # watermark 1 100
    assert [e.n for e in buf.release()] == [0, 2, 4]  # equal ts keep arrival order
    assert [e.n for e in buf.flush()] == [5]
    assert len(buf) == 0


def test_nothing_released_before_watermark_passes() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=1_000)
    assert buf.offer(Ev(5_000, 0))
    assert buf.offer(Ev(5_999, 1))
    assert buf.release() == []
    assert buf.offer(Ev(6_000, 2))  # watermark 5 000
    assert [e.n for e in buf.release()] == [0]


def test_late_offer_is_refused_and_not_buffered() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=100)
    for n, ts in enumerate((0, 500, 1_000)):
        buf.offer(Ev(ts, n))
    assert [e.ts for e in buf.release()] == [0, 500]
    assert not buf.offer(Ev(899, 9))  # more than lateness behind the newest offered (1 000)
    assert buf.lag_behind(899) == 101
    assert buf.offer(Ev(900, 10))  # exactly lateness behind: still allowed
    assert buf.offer(Ev(950, 11))
    assert [e.n for e in buf.flush()] == [10, 11, 2]
    assert not buf.offer(Ev(899, 12))


def test_flush_releases_everything_in_order() -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=10_000)
    for n, ts in enumerate((30, 10, 20, 10)):
        buf.offer(Ev(ts, n))
    assert buf.release() == []
    assert [(e.ts, e.n) for e in buf.flush()] == [(10, 1), (10, 3), (20, 2), (30, 0)]
    assert buf.flush() == []


def test_a_stuck_clock_holds_no_more_than_the_bound_and_loses_nothing() -> None:
    """Every event at one ts never moves the watermark: the bound releases the oldest."""
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=2_000, max_held=50)
    released: list[Ev] = []
    for n in range(1_000):
        assert buf.offer(Ev(7_000, n))
        released.extend(buf.release())
        assert len(buf) <= 50
    released.extend(buf.flush())
    assert [e.n for e in released] == list(range(1_000))


@PROPERTY
@given(
    st.lists(st.one_of(st.integers(0, 2_000), st.just(None)), max_size=80),
    st.integers(0, 500),
    st.integers(1, 10),
)
def test_the_bound_keeps_order_and_every_event(
    script: list[int | None], lateness: int, bound: int
) -> None:
    """Bounded or not, released events come out once each, in (ts, arrival) order at each
    release, and a release leaves at most ``max_held`` events held."""
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=lateness, max_held=bound)
    accepted: list[Ev] = []
    released: list[Ev] = []
    for n, step in enumerate(script):
        if step is None:
            out = buf.release()
            assert [(e.ts, e.n) for e in out] == sorted((e.ts, e.n) for e in out)
            assert len(buf) <= bound
            released.extend(out)
        elif buf.offer(Ev(step, n)):
            accepted.append(Ev(step, n))
    released.extend(buf.flush())
    assert sorted((e.ts, e.n) for e in released) == sorted((e.ts, e.n) for e in accepted)


@PROPERTY
@given(
    st.lists(
        st.one_of(st.integers(0, 2_000), st.just(None)),  # None = call release()
        max_size=80,
    ),
    st.integers(0, 500),
)
def test_reorder_property(script: list[int | None], lateness: int) -> None:
    buf: ReorderBuffer[Ev] = ReorderBuffer(lateness_ms=lateness)
    released: list[Ev] = []
    accepted: list[Ev] = []
    for n, step in enumerate(script):
        if step is None:
            out = buf.release()
            newest = max((e.ts for e in accepted), default=-1)
            assert all(e.ts <= newest - lateness for e in out)
            released.extend(out)
            continue
        event = Ev(step, n)
        newest_before = max((e.ts for e in accepted), default=-1)
        last_released = released[-1].ts if released else -1
        ok = buf.offer(event)
        # refused exactly when more than lateness behind the newest offered before it, which
        # depends on arrival order alone, and never lets an event in behind a released one
        assert ok == (step >= newest_before - lateness)
        if ok:
            assert step >= last_released
            accepted.append(event)
    released.extend(buf.flush())
    assert len(buf) == 0
    keys = [(e.ts, e.n) for e in released]
    assert [e.ts for e in released] == sorted(e.ts for e in released)
    assert sorted(keys) == sorted((e.ts, e.n) for e in accepted)  # each exactly once
    assert len(set(keys)) == len(keys)
    # equal timestamps come out in arrival order
    for a, b in itertools.pairwise(released):
        if a.ts == b.ts:
            assert a.n < b.n
