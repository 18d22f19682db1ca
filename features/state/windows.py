"""Per-item interaction counts over a sliding event-time window.

Counts live in a ring of fixed-width event-time buckets plus a running total, so adding an
event and reading the window are O(1) per item. Only event time moves the ring, which keeps
"momentum" a pure function of the events with ``ts <= now``.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from features.state.rows import grow, take_rows

CHANNELS: Final = ("clicks", "carts", "purchases", "engagement", "watch_min")
CLICKS, CARTS, PURCHASES, ENGAGEMENT, WATCH_MIN = range(len(CHANNELS))


class ItemWindow:
    """Sliding window of ``window_ms`` made of buckets of ``bucket_ms``.

    >>> w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    >>> w.add(0, CLICKS, 1.0, ts=5_000); w.add(0, CLICKS, 1.0, ts=30_000)
    >>> float(w.totals(70_000)[0, CLICKS])  # the event at 5 s has left the window
    1.0
    """

    def __init__(self, window_ms: int, bucket_ms: int) -> None:
        self.bucket_ms = max(1, bucket_ms)
        self.n_buckets = max(1, -(-window_ms // self.bucket_ms))
        self.buckets = np.zeros((self.n_buckets, 0, len(CHANNELS)), dtype=np.float32)
        self.total = np.zeros((0, len(CHANNELS)), dtype=np.float32)
        self.current = -1  # absolute index of the newest bucket

    def reserve(self, rows: int) -> None:
        """Make room for item rows ``0..rows-1`` (new rows count zero)."""
        if rows > self.total.shape[0]:
            capacity = max(8, 2 * self.total.shape[0], rows)
            self.total = grow(self.total, capacity)
            bigger = np.zeros((self.n_buckets, capacity, len(CHANNELS)), dtype=np.float32)
            bigger[:, : self.buckets.shape[1]] = self.buckets
            self.buckets = bigger

    def advance(self, ts: int) -> None:
        """Move the ring to ``ts``, dropping buckets that fell out of the window."""
        index = ts // self.bucket_ms
        if index <= self.current:
            return
        steps = min(index - self.current, self.n_buckets)
        for b in range(index - steps + 1, index + 1):
            slot = b % self.n_buckets
            self.total -= self.buckets[slot]
            self.buckets[slot] = 0.0
        np.maximum(self.total, 0.0, out=self.total)  # float32 round-off never goes negative
        self.current = index

    def add(self, row: int, channel: int, amount: float, ts: int) -> None:
        self.reserve(row + 1)
        self.advance(ts)
        index = ts // self.bucket_ms
        if index <= self.current - self.n_buckets:
            return  # older than the window: nothing left to count it in
        self.buckets[index % self.n_buckets, row, channel] += amount
        self.total[row, channel] += amount

    def totals(self, now: int) -> np.ndarray:
        """(rows × channels) counts of the window ending at ``now``."""
        self.advance(now)
        return self.total

    def take_rows(self, live: np.ndarray, capacity: int) -> None:
        """Items renumbered (``RowColumns``): the buckets hold items along their second axis."""
        self.total = take_rows(self.total, live, capacity)
        self.buckets = take_rows(self.buckets, live, capacity, axis=1)

    def forget(self, row: int) -> None:
        if row < self.total.shape[0]:
            self.total[row] = 0.0
            self.buckets[:, row] = 0.0
