"""Per-item interaction counts over a sliding event-time window.

Counts live in a ring of fixed-width event-time buckets plus a running total, so adding an
event and reading the window are O(1) per item. Only event time moves the ring, which keeps
"momentum" a pure function of the events with ``ts <= now``.

A bucket exists only while something was counted in it: a room with a few events holds a
few buckets, not the whole ring (30 by default, each a row per item), and a bucket that falls
out of the window is freed. The ring still reads as one (buckets × items × channels) array,
``buckets``, the shape snapshots store.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from features.state.rows import grow, no_rows, take_rows

CHANNELS: Final = ("clicks", "carts", "purchases", "engagement", "watch_min")
CLICKS, CARTS, PURCHASES, ENGAGEMENT, WATCH_MIN = range(len(CHANNELS))


class ItemWindow:
    """Sliding window of ``window_ms`` made of buckets of ``bucket_ms``.

    >>> w = ItemWindow(window_ms=60_000, bucket_ms=10_000)
    >>> w.add(0, CLICKS, 1.0, ts=5_000); w.add(0, CLICKS, 1.0, ts=30_000)
    >>> float(w.totals(70_000)[0, CLICKS])  # the event at 5 s has left the window
    1.0
    >>> w.buckets.shape, list(w.ring)  # a ring of 6 buckets, one held
    ((6, 1, 5), [3])
    """

    def __init__(self, window_ms: int, bucket_ms: int) -> None:
        self.bucket_ms = max(1, bucket_ms)
        self.n_buckets = max(1, -(-window_ms // self.bucket_ms))
        # ring[b]: bucket b's (rows × channels) counts, as long as ``total``; absent: zero.
        self.ring: dict[int, np.ndarray] = {}
        self.total = no_rows(np.float32, len(CHANNELS))
        self.current = -1  # absolute index of the newest bucket

    @property
    def buckets(self) -> np.ndarray:
        """The ring as one (buckets × rows × channels) array, zeros where no bucket is held:
        a copy, for snapshots and tests."""
        out = np.zeros((self.n_buckets, *self.total.shape), dtype=np.float32)
        for slot, counts in self.ring.items():
            out[slot, : len(counts)] = counts[: len(self.total)]
        return out

    @buckets.setter
    def buckets(self, value: np.ndarray) -> None:
        """Take the ring from one array (a restored snapshot): all-zero buckets are not held."""
        value = np.asarray(value, dtype=np.float32)
        self.n_buckets = len(value)
        self.ring = {slot: value[slot].copy() for slot in range(self.n_buckets)
                     if value[slot].any()}

    def reserve(self, rows: int) -> None:
        """Make room for item rows ``0..rows-1`` (new rows count zero)."""
        if rows > self.total.shape[0]:
            capacity = max(2 * self.total.shape[0], rows)
            self.total = grow(self.total, capacity)
            self.ring = {slot: grow(counts, capacity) for slot, counts in self.ring.items()}

    def advance(self, ts: int) -> None:
        """Move the ring to ``ts``, dropping buckets that fell out of the window."""
        index = ts // self.bucket_ms
        if index <= self.current:
            return
        steps = min(index - self.current, self.n_buckets)
        ring, total = self.ring, self.total
        for b in range(index - steps + 1, index + 1):
            slot = b % self.n_buckets
            counts = ring.pop(slot, None)
            if counts is not None:  # (an absent bucket is zero: total − 0 is total exactly)
                total[: len(counts)] -= counts[: len(total)]
        np.maximum(total, 0.0, out=total)  # float32 round-off never goes negative
        self.current = index

    def add(self, row: int, channel: int, amount: float, ts: int) -> None:
        self.reserve(row + 1)
        self.advance(ts)
        index = ts // self.bucket_ms
        if index <= self.current - self.n_buckets:
            return  # older than the window: nothing left to count it in
        slot = index % self.n_buckets
        counts = self.ring.get(slot)
        if counts is None or len(counts) < len(self.total):
            counts = self.ring[slot] = (np.zeros_like(self.total) if counts is None
                                        else grow(counts, len(self.total)))
        counts[row, channel] += amount
        self.total[row, channel] += amount

    def totals(self, now: int) -> np.ndarray:
        """(rows × channels) counts of the window ending at ``now``."""
        self.advance(now)
        return self.total

    def take_rows(self, live: np.ndarray, capacity: int) -> None:
        """Items renumbered (``RowColumns``): every bucket held follows the rows kept."""
        self.total = take_rows(self.total, live, capacity)
        self.ring = {slot: take_rows(counts, live, capacity)
                     for slot, counts in self.ring.items()}

    def forget(self, row: int) -> None:
        if row < self.total.shape[0]:
            self.total[row] = 0.0
            for counts in self.ring.values():
                if row < len(counts):
                    counts[row] = 0.0
