"""``Deduplicator``: redeliveries are dropped, and memory is bounded by a horizon and a count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from features.state.dedup import PLATFORM, Deduplicator, Seen, digest
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


# -- per source (the id-squat attack, docs/evaluation.md "Forged ids and clocks") ----------
def test_a_viewer_using_the_coming_showcase_id_first_does_not_block_the_showcase() -> None:
    d = Deduplicator(horizon_ms=10_000, max_ids=100)
    assert d.offer("e-s2", 4_999, b"heartbeat", source="attacker") is Seen.NEW
    assert d.offer("e-s2", 5_000, b"showcase", source=PLATFORM) is Seen.NEW
    assert d.offer("e-s2", 5_000, b"showcase", source=PLATFORM) is Seen.DUPLICATE
    assert d.offer("e-s2", 5_000, b"other", source=PLATFORM) is Seen.REUSED
    assert d.offer("e-s2", 5_001, b"other", source="attacker") is Seen.REUSED  # its own


@PROPERTY
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 30),
                       st.sampled_from([b"x", b"y"])), max_size=40),
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from([b"x", b"z"])), max_size=40),
)
def test_what_one_source_sends_never_changes_what_another_sees(
    others: list[tuple[str, int, bytes]], mine: list[tuple[int, bytes]]
) -> None:
    """The honest source's verdicts are the same with or without the others' events
    interleaved (with room for all: no count eviction, one event time)."""
    alone = Deduplicator(horizon_ms=10_000, max_ids=1_000)
    mixed = Deduplicator(horizon_ms=10_000, max_ids=1_000)
    for source, n, raw in others:
        mixed.offer(f"e-{n}", 0, raw, source=source)
    verdicts = [alone.offer(f"e-{n}", 0, raw, source="me") for n, raw in mine]
    assert [mixed.offer(f"e-{n}", 0, raw, source="me") for n, raw in mine] == verdicts


def test_ids_restored_without_a_source_still_drop_their_redelivery() -> None:
    """A snapshot written before sources were kept: the same bytes are a redelivery, other
    bytes (maybe another source's event) are not blocked."""
    d = Deduplicator(horizon_ms=10_000, max_ids=100)
    d.restore(1_000, [(1_000, "e-1", None, digest(b"click")), (1_000, "e-2", None, b"")])
    assert d.offer("e-1", 1_000, b"click", source="u-1") is Seen.DUPLICATE
    assert d.offer("e-1", 1_000, b"squat", source="u-9") is Seen.NEW
    assert d.offer("e-2", 1_000, b"anything", source="u-1") is Seen.DUPLICATE  # no digest: id
    assert [(i, s) for _, i, s, _ in d.entries()] == [("e-1", None), ("e-2", None),
                                                     ("e-1", "u-9")]


def test_memory_stays_bounded_by_max_ids_over_all_sources() -> None:
    d = Deduplicator(horizon_ms=10_000, max_ids=150)
    for n in range(1_000):
        d.offer(f"e-{n % 200}", 0, b"", source=f"u-{n // 200}")
    assert len(d) == 150
