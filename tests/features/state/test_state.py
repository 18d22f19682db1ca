"""Per-room state primitives: dedup, reorder buffer, item windows, viewer presence, row index."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from features.state.dedup import Deduplicator
from features.state.reorder import ReorderBuffer
from features.state.rows import RowIndex, grow
from features.state.viewers import SEGMENT_SLOTS, ViewerTable
from features.state.windows import CARTS, CHANNELS, CLICKS, PURCHASES, WATCH_MIN, ItemWindow

PROPERTY = settings(max_examples=150, deadline=None, database=None)


# -- Deduplicator -------------------------------------------------------------------------


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


# -- ReorderBuffer ---------------------------------------------------------------------------


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


# -- ItemWindow ------------------------------------------------------------------------------


def test_window_counts_expire_after_the_window() -> None:
    w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    w.add(0, CLICKS, 1.0, ts=5_000)
    w.add(1, CARTS, 2.0, ts=5_000)
    w.add(0, CLICKS, 1.0, ts=30_000)
    totals = w.totals(50_000)
    assert totals[0, CLICKS] == 2.0 and totals[1, CARTS] == 2.0
    totals = w.totals(60_000)
    assert totals[0, CLICKS] == 1.0 and totals[1, CARTS] == 0.0
    assert w.totals(90_000)[0, CLICKS] == 0.0
    assert w.totals(10**9).sum() == 0.0


def test_window_event_older_than_window_is_ignored() -> None:
    w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    w.add(0, PURCHASES, 1.0, ts=200_000)
    w.add(0, PURCHASES, 5.0, ts=100_000)  # 100 s behind a 60 s window: nothing to count it in
    w.add(0, PURCHASES, 3.0, ts=190_000)  # behind but inside the window: counted
    assert w.totals(200_000)[0, PURCHASES] == 4.0


def test_window_forget_zeroes_a_row() -> None:
    w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    w.add(3, WATCH_MIN, 0.5, ts=1_000)
    w.add(2, WATCH_MIN, 0.25, ts=1_000)
    w.forget(3)
    assert w.totals(2_000)[3].sum() == 0.0
    assert w.totals(2_000)[2, WATCH_MIN] == 0.25
    assert w.totals(70_000).shape[1] == len(CHANNELS)
    assert (w.totals(70_000) == 0).all()  # forgotten counts do not go negative on expiry


def naive_totals(
    events: list[tuple[int, int, int, float]], now: int, window: ItemWindow, rows: int
) -> np.ndarray:
    out = np.zeros((rows, len(CHANNELS)))
    b, n = window.bucket_ms, window.n_buckets
    for ts, row, channel, amount in events:
        if now // b - n < ts // b <= now // b:
            out[row, channel] += amount
    return out


@PROPERTY
@given(
    st.integers(1, 5).flatmap(lambda n_buckets: st.tuples(st.just(n_buckets), st.integers(1, 50))),
    st.lists(
        st.tuples(
            st.integers(-120, 200),  # ts step relative to the newest so far (may go back)
            st.integers(0, 5),
            st.integers(0, len(CHANNELS) - 1),
            st.integers(0, 8).map(lambda k: k * 0.25),
            st.integers(0, 300),  # extra delay of a query after the event (0: no query)
        ),
        max_size=60,
    ),
)
def test_window_matches_naive_recomputation(
    shape: tuple[int, int], script: list[tuple[int, int, int, float, int]]
) -> None:
    n_buckets, bucket_ms = shape
    window = ItemWindow(window_ms=n_buckets * bucket_ms, bucket_ms=bucket_ms)
    events: list[tuple[int, int, int, float]] = []
    newest = 0
    clock = 0  # the window only moves forward; queries never go back
    for step, row, channel, amount, delay in script:
        ts = max(0, newest + step)
        newest = max(newest, ts)
        window.add(row, channel, amount, ts)
        clock = max(clock, ts)
        events.append((ts, row, channel, amount))
        if delay:
            clock += delay
            totals = window.totals(clock)
            expected = naive_totals(events, clock, window, 6)
            got = np.zeros_like(expected)
            got[: min(6, totals.shape[0])] = totals[:6]
            np.testing.assert_allclose(got, expected, atol=1e-4)
    expected = naive_totals(events, clock, window, 6)
    totals = window.totals(clock)
    got = np.zeros_like(expected)
    got[: min(6, totals.shape[0])] = totals[:6]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_window_with_non_multiple_width_keeps_at_least_the_window() -> None:
    w = ItemWindow(window_ms=25_000, bucket_ms=10_000)  # rounds up to 3 buckets
    w.add(0, CLICKS, 1.0, ts=10_000)
    assert w.totals(34_999)[0, CLICKS] == 1.0
    assert w.totals(40_000)[0, CLICKS] == 0.0


# -- ViewerTable -----------------------------------------------------------------------------


def table() -> ViewerTable:
    return ViewerTable(presence_timeout_ms=90_000, forget_after_ms=600_000)


def test_enter_makes_a_viewer_present_and_leave_removes_them() -> None:
    v = table()
    a = v.enter("a", 1_000, {})
    b = v.enter("b", 2_000, {})
    assert a != b
    assert v.present_rows(3_000).tolist() == sorted([a, b])
    v.leave("a", 4_000)
    assert v.present_rows(5_000).tolist() == [b]
    assert a not in v.present_rows(5_000) and (b in v.present_rows(5_000))
    assert v.present_count(5_000) == 1
    assert len(v) == 2  # a left but is still known


def test_presence_times_out_without_news() -> None:
    v = table()
    row = v.enter("a", 0, {})
    assert (row in v.present_rows(89_999))
    assert row not in v.present_rows(90_001)
    assert v.present_rows(90_001).size == 0
    v.touch("a", 100_000)  # a heartbeat: present again
    assert (row in v.present_rows(150_000))
    assert v.present_rows(150_000).tolist() == [row]


def test_heartbeat_from_unknown_viewer_implies_presence() -> None:
    v = table()
    row, new = v.touch("mid-stream", 50_000)
    assert new
    assert (row in v.present_rows(60_000))
    assert v.present_rows(60_000).tolist() == [row]
    again, new = v.touch("mid-stream", 55_000)
    assert (again, new) == (row, False)
    assert v.last_seen[row] == 55_000


def test_older_touch_does_not_move_last_seen_back() -> None:
    v = table()
    row = v.enter("a", 10_000, {})
    v.touch("a", 5_000)
    assert v.last_seen[row] == 10_000


def test_enter_records_tier_and_segments() -> None:
    """The tier is a number; every other str/int attribute value is a segment slot, exact per
    room; float attributes (no natural segments) are not."""
    v = table()
    row = v.enter("a", 0, {"spend_tier": 4, "city": "Lyon", "new_user": 1, "score": 0.3})
    other = v.enter("b", 0, {"city": "Paris"})
    same = v.enter("c", 0, {"city": "Lyon"})
    plain = v.enter("d", 0, {})
    assert v.tier[row] == 4.0 and v.has_tier[row] == 1.0 and v.has_tier[other] == 0.0
    assert v.segment_names == ["city=Lyon", "new_user=1", "city=Paris"]
    assert np.flatnonzero(v.segments[row]).tolist() == [0, 1]
    assert np.flatnonzero(v.segments[other]).tolist() == [2]
    assert np.flatnonzero(v.segments[same]).tolist() == [0]
    assert v.segments[plain].sum() == 0


def test_segment_slots_are_bounded() -> None:
    v = table()
    for n in range(3 * SEGMENT_SLOTS):
        v.enter(f"u-{n}", 0, {"city": f"c{n}"})
    assert len(v.segment_names) == SEGMENT_SLOTS
    assert v.segments.shape[1] == SEGMENT_SLOTS
    assert (v.segments.sum(axis=1)[: 3 * SEGMENT_SLOTS] == 1).all()  # beyond: shared slots


def test_forget_idle_frees_rows_and_reentry_gets_a_clean_row() -> None:
    v = table()
    old = v.enter("old", 0, {"spend_tier": 5, "city": "Paris"})
    v.cat_chosen[old, 3] = 4
    v.cat_exposed[old, 2] = 1.5
    v.recent_item[old] = [3, 2, 0]
    v.price_w[old], v.price_lp[old] = 2.0, 7.0
    keep = v.enter("keep", 550_000, {})
    assert v.forget_idle(600_000) == []  # exactly forget_after behind: not yet
    assert v.forget_idle(600_001) == [old]
    assert v.rows.get("old") is None and len(v) == 1
    assert v.present_rows(600_001).tolist() == [keep]
    again = v.enter("old", 700_000, {})
    assert again == old  # the freed row is reused
    assert v.rows.get("old") == again
    for name in ViewerTable._COLUMNS:
        if name not in ("last_seen", "present"):
            assert not getattr(v, name)[again].any(), name
    assert v.last_seen[again] == 700_000 and v.present[again]


def test_forget_idle_keeps_memory_bounded() -> None:
    v = table()
    for n in range(2_000):
        now = n * 10_000
        v.enter(f"u-{n}", now, {})
        v.forget_idle(now)
    assert len(v) <= 61  # only viewers heard from in the last 600 s remain
    assert v.rows.capacity <= 128


def test_forget_after_is_at_least_the_presence_timeout() -> None:
    v = ViewerTable(presence_timeout_ms=90_000, forget_after_ms=1_000)
    row = v.enter("a", 0, {})
    assert v.forget_idle(50_000) == []
    assert (row in v.present_rows(50_000))


# -- RowIndex --------------------------------------------------------------------------------


def test_row_index_reuses_freed_rows() -> None:
    rows = RowIndex()
    a, b, c = rows.add("a"), rows.add("b"), rows.add("c")
    assert (a, b, c) == (0, 1, 2)
    assert rows.remove("b") == 1
    assert "b" not in rows and rows.get("b") is None
    assert rows.ids[1] is None
    assert rows.add("d") == 1
    assert rows.ids[1] == "d" and rows.get("d") == 1
    assert rows.add("e") == 3
    assert len(rows) == 4
    assert sorted(rows.items()) == [("a", 0), ("c", 2), ("d", 1), ("e", 3)]


def test_row_index_grows_capacity() -> None:
    rows = RowIndex()
    for n in range(100):
        assert rows.add(f"k{n}") == n
        assert rows.capacity > n
    assert [rows.ids[n] for n in range(100)] == [f"k{n}" for n in range(100)]


@PROPERTY
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 25)), max_size=150))
def test_row_index_matches_a_dict_and_follows_the_live_population(
    ops: list[tuple[bool, int]],
) -> None:
    rows = RowIndex()
    model: dict[str, int] = {}
    peak = 0
    for add, n in ops:
        key = f"k{n}"
        if add and key not in model:
            model[key] = rows.add(key)
        elif not add and key in model:
            assert rows.remove(key) == model.pop(key)
        peak = max(peak, len(model))
        assert len(rows) == len(model)
        assert len(set(model.values())) == len(model)  # rows unique
        for k, r in model.items():
            assert rows.get(k) == r and k in rows and rows.ids[r] == k
            assert r < peak  # rows never go beyond the largest live population
        assert rows.capacity >= len(model)


def test_grow_keeps_content_and_zeroes_new_rows() -> None:
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = grow(a, 5)
    assert b.shape == (5, 2) and b.dtype == np.float32
    assert (b[:3] == a).all() and (b[3:] == 0).all()
    assert grow(a, 2) is a
