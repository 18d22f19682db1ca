"""``Deduplicator``: redeliveries are dropped, and memory is bounded by a horizon and a count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.state.dedup import Deduplicator
from tests.features.state.helpers import PROPERTY


def test_redelivery_within_horizon_is_dropped() -> None:
    d = Deduplicator(horizon_ms=10_000, max_ids=100)
    assert d.first_time("e-1", 1_000)
    assert d.first_time("e-2", 2_000)
    assert not d.first_time("e-1", 1_000)  # exact redelivery
    assert not d.first_time("e-1", 9_000)
    assert d.first_time("e-3", 11_000)  # newest 11 000: e-1 (1 000) is exactly at the cutoff
    assert not d.first_time("e-1", 1_000)
    assert not d.first_time("e-2", 2_000)
    assert len(d) == 3


def test_ids_older_than_horizon_are_forgotten() -> None:
    d = Deduplicator(horizon_ms=10_000, max_ids=100)
    assert d.first_time("e-1", 0)
    assert d.first_time("e-2", 10_001)  # e-1 is now more than the horizon behind
    assert len(d) == 1
    assert d.first_time("e-1", 0)  # forgotten: counts as new again


def test_dedup_size_is_bounded_by_max_ids() -> None:
    d = Deduplicator(horizon_ms=10**12, max_ids=50)
    for n in range(1_000):
        assert d.first_time(f"e-{n}", n)
        assert len(d) <= 50
    assert len(d) == 50
    # the newest ids are the ones remembered
    assert not d.first_time("e-999", 999)
    assert not d.first_time("e-950", 950)
    assert d.first_time("e-0", 0)


def test_dedup_size_is_bounded_by_horizon() -> None:
    d = Deduplicator(horizon_ms=100, max_ids=10**6)
    for n in range(5_000):
        d.first_time(f"e-{n}", n * 10)
    assert len(d) <= 11  # ids within 100 ms of the newest, 10 ms apart


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 5_000)),
        min_size=1,
        max_size=120,
    ),
    st.integers(1, 40),
)
def test_dedup_never_accepts_a_remembered_id(ops: list[tuple[int, int]], max_ids: int) -> None:
    """A redelivery is dropped while its id is within the horizon of the newest event time
    and fewer than ``max_ids`` ids arrived after it; only ids seen before are ever dropped."""
    horizon = 1_000
    d = Deduplicator(horizon_ms=horizon, max_ids=max_ids)
    log: list[tuple[int, str]] = []  # (ts, id) of every first-time acceptance, in order
    newest = 0
    for n, ts in ops:
        event_id = f"e-{n}"
        first = d.first_time(event_id, ts)
        last = max((i for i, (_, e) in enumerate(log) if e == event_id), default=None)
        if first:
            if last is not None:
                stored_ts = log[last][0]
                after = len(log) - 1 - last
                assert not (stored_ts >= newest - horizon and after < max_ids), (
                    f"{event_id} accepted twice although still remembered"
                )
            log.append((ts, event_id))
            newest = max(newest, ts)
        else:
            assert last is not None  # only an id accepted before can be a duplicate
        assert len(d) <= max_ids
