"""Who is in a room and what the room has seen them do.

Presence follows the contract: a viewer is present after ``enter`` (or any event of theirs:
the job may start mid-stream), until ``leave`` or until not heard from for the presence
timeout. What a viewer did is kept as columns (one row per viewer) so that features for all
present viewers come out as matrices, without a per-viewer Python loop.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from features.contract.events import AttrValue
from features.contract.ids import unit_hash
from features.state.rows import RowIndex, grow

ATTR_BUCKETS: Final = 8
CATEGORY_BUCKETS: Final = 8
VIEWER_FEATURES: Final = (
    "tier",
    "has_tier",
    "log_avg_spend",
    "has_spend",
    "log_clicks",
    "log_carts",
    "log_watch_min",
    *(f"attr_{b}" for b in range(ATTR_BUCKETS)),
)
TIER_ATTR: Final = "spend_tier"


def category_bucket(category: str) -> int:
    return int(unit_hash("category", category) * CATEGORY_BUCKETS)


def attr_vector(attrs: dict[str, AttrValue]) -> np.ndarray:
    """Hash the platform's free-form attrs into a fixed, bounded feature vector."""
    vec = np.zeros(ATTR_BUCKETS, dtype=np.float32)
    for key, value in attrs.items():
        if key == TIER_ATTR:
            continue
        if isinstance(value, str):
            vec[int(unit_hash(key, value) * ATTR_BUCKETS)] += 1.0
        else:
            vec[int(unit_hash(key) * ATTR_BUCKETS)] += value / (1.0 + abs(value))
    return vec


class ViewerTable:
    """Column store of a room's viewers, with presence."""

    def __init__(self, presence_timeout_ms: int, forget_after_ms: int) -> None:
        self.presence_timeout_ms = presence_timeout_ms
        self.forget_after_ms = max(forget_after_ms, presence_timeout_ms)
        self.rows = RowIndex()
        self.last_seen = np.zeros(0, dtype=np.int64)
        self.present = np.zeros(0, dtype=bool)
        self.tier = np.zeros(0, dtype=np.float32)
        self.has_tier = np.zeros(0, dtype=np.float32)
        self.attrs = np.zeros((0, ATTR_BUCKETS), dtype=np.float32)
        self.spend = np.zeros(0, dtype=np.float32)
        self.purchases = np.zeros(0, dtype=np.float32)
        self.clicks = np.zeros(0, dtype=np.float32)
        self.carts = np.zeros(0, dtype=np.float32)
        self.watch_ms = np.zeros(0, dtype=np.float32)
        self.categories = np.zeros((0, CATEGORY_BUCKETS), dtype=np.float32)

    _COLUMNS: Final = (
        "last_seen", "present", "tier", "has_tier", "attrs", "spend", "purchases",
        "clicks", "carts", "watch_ms", "categories",
    )  # fmt: skip

    def __len__(self) -> int:
        return len(self.rows)

    def trimmed(self) -> ViewerTable:
        """A shallow copy without the arrays' growth slack, for a compact snapshot."""
        rows = self.rows.high_water
        copy = object.__new__(ViewerTable)
        copy.__dict__.update(self.__dict__)
        copy.rows = self.rows.trimmed()
        for name in self._COLUMNS:
            setattr(copy, name, getattr(self, name)[:rows])
        return copy

    def row_of(self, user_id: str) -> int | None:
        return self.rows.get(user_id)

    def touch(self, user_id: str, ts: int) -> tuple[int, bool]:
        """Mark a viewer heard from at ``ts``; returns (row, was_new)."""
        row = self.rows.get(user_id)
        new = row is None
        if row is None:
            row = self.rows.add(user_id)
            if row >= len(self.last_seen):
                for name in self._COLUMNS:
                    setattr(self, name, grow(getattr(self, name), self.rows.capacity))
        if ts > self.last_seen[row]:
            self.last_seen[row] = ts
        self.present[row] = True
        return row, new

    def enter(self, user_id: str, ts: int, attrs: dict[str, AttrValue]) -> int:
        row, _ = self.touch(user_id, ts)
        tier = attrs.get(TIER_ATTR)
        if isinstance(tier, int | float) and math.isfinite(tier):
            self.tier[row] = float(tier)
            self.has_tier[row] = 1.0
        if attrs:
            self.attrs[row] = attr_vector(attrs)
        return row

    def leave(self, user_id: str, ts: int) -> None:
        row, _ = self.touch(user_id, ts)
        self.present[row] = False

    def present_rows(self, now: int) -> np.ndarray:
        """Rows of viewers present at ``now``, ascending (a stable, worker-independent order)."""
        mask = self.present & (self.last_seen >= now - self.presence_timeout_ms)
        return np.flatnonzero(mask)

    def present_count(self, now: int) -> int:
        return int(self.present_rows(now).size)

    def is_present(self, row: int, now: int) -> bool:
        return bool(self.present[row]) and self.last_seen[row] >= now - self.presence_timeout_ms

    def forget_idle(self, now: int) -> list[int]:
        """Drop viewers not heard from for ``forget_after_ms``; returns freed rows."""
        cutoff = now - self.forget_after_ms
        stale = np.flatnonzero((self.last_seen < cutoff) & (self.rows.ids != None))  # noqa: E711
        freed: list[int] = []
        for row in stale.tolist():
            self.rows.remove(self.rows.ids[row])
            for name in self._COLUMNS:
                getattr(self, name)[row] = 0
            freed.append(row)
        return freed

    def features(self, rows: np.ndarray) -> np.ndarray:
        """Matrix of ``VIEWER_FEATURES`` for ``rows`` (float32)."""
        n_purch = self.purchases[rows]
        out = np.empty((len(rows), len(VIEWER_FEATURES)), dtype=np.float32)
        np.divide(self.tier[rows], 5.0, out=out[:, 0])
        out[:, 1] = self.has_tier[rows]
        _log1p(self.spend[rows] / np.maximum(n_purch, 1.0), out[:, 2])
        out[:, 3] = n_purch > 0
        _log1p(self.clicks[rows], out[:, 4])
        _log1p(self.carts[rows], out[:, 5])
        _log1p(self.watch_ms[rows] / 60_000.0, out[:, 6])
        # take(axis=0), not [rows]: ~10× faster for gathering short rows
        out[:, 7:] = self.attrs.take(rows, axis=0)
        return out

    def feature_row(self, row: int) -> list[float]:
        """``features`` of one viewer in plain Python: the readable twin, and cheaper for
        the single pairs the propensity learner trains on."""
        purchases = float(self.purchases[row])
        avg_spend = float(self.spend[row]) / max(purchases, 1.0)
        return [
            float(self.tier[row]) / 5.0,
            float(self.has_tier[row]),
            math.log1p(avg_spend),
            1.0 if purchases > 0 else 0.0,
            math.log1p(float(self.clicks[row])),
            math.log1p(float(self.carts[row])),
            math.log1p(float(self.watch_ms[row]) / 60_000.0),
            *self.attrs[row].tolist(),
        ]

    def category_shares_of(self, row: int) -> list[float]:
        """``category_share`` of one viewer in plain Python."""
        counts = self.categories[row].tolist()
        total = max(sum(counts), 1.0)
        return [count / total for count in counts]

    def log_budget(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log1p of the viewer's average order value, and whether it is known."""
        n_purch = self.purchases[rows]
        known = (n_purch > 0).astype(np.float32)
        return np.log1p(self.spend[rows] / np.maximum(n_purch, 1.0)), known

    def category_share(self, rows: np.ndarray) -> np.ndarray:
        """Share of each viewer's item interactions per category bucket."""
        counts = self.categories.take(rows, axis=0)  # see features(): take, not [rows]
        # Row sums as a matrix-vector product: ~7× faster than sum(axis=1) on 8-wide rows.
        totals = counts @ np.ones(counts.shape[1], dtype=counts.dtype)
        return counts / np.maximum(totals, 1.0)[:, None]


def _log1p(values: np.ndarray, out: np.ndarray) -> None:
    """log(1 + x) into ``out`` (a float32 column): 2× faster than ``np.log1p`` here, and the
    same to float32 rounding for these non-negative counts and amounts. ``np.log`` runs on a
    contiguous temporary: into a strided column it is ~10× slower."""
    shifted = np.add(values, 1.0, dtype=np.float32)
    np.log(shifted, out=shifted)
    out[...] = shifted
