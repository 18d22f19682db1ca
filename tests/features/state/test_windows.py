"""``ItemWindow``: per-item counts over a sliding window of time buckets."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from features.state.windows import CARTS, CHANNELS, CLICKS, PURCHASES, WATCH_MIN, ItemWindow
from tests.features.state.helpers import PROPERTY


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


def test_window_holds_only_the_buckets_something_was_counted_in() -> None:
    w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    assert not w.ring and w.buckets.shape == (6, 0, len(CHANNELS))
    w.add(2, CLICKS, 1.0, ts=5_000)
    w.add(0, CARTS, 2.0, ts=25_000)
    assert sorted(w.ring) == [0, 2]
    assert w.buckets[0, 2, CLICKS] == 1.0 and w.buckets[2, 0, CARTS] == 2.0
    assert w.buckets.sum() == 3.0
    w.totals(65_000)  # the bucket of 0-10 s left the window, and its memory with it
    assert sorted(w.ring) == [2]


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(-30_000, 40_000), st.integers(0, 9),
                  st.integers(0, len(CHANNELS) - 1), st.integers(1, 8).map(lambda k: k * 0.25)),
        max_size=40,
    ),
    st.integers(0, 40),
    st.sets(st.integers(0, 9), max_size=3),
)
def test_a_window_restored_from_its_buckets_goes_on_bit_for_bit(
    script: list[tuple[int, int, int, float]], cut: int, forgotten: set[int]
) -> None:
    """What a snapshot stores (``total``, ``buckets``, ``current``) restores a window that
    counts on exactly as the original, forgetting rows included."""
    original = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    restored = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    ts = 100_000
    for n, (step, row, channel, amount) in enumerate(script):
        if n == cut:
            restored.current = original.current
            restored.total, restored.buckets = original.total.copy(), original.buckets
        windows = (original, restored) if n >= cut else (original,)
        ts = max(0, ts + step)
        for window in windows:
            window.add(row, channel, amount, ts)
            if row in forgotten:
                window.forget(row)
    if cut >= len(script):
        return
    now = ts + 20_000
    np.testing.assert_array_equal(restored.totals(now), original.totals(now)[: len(restored.total)])
    assert not original.totals(now)[len(restored.total):].any()
    np.testing.assert_array_equal(restored.buckets, original.buckets[:, : len(restored.total)])
