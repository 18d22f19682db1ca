"""The items a room has shown and the showcase on stage now.

Items keep their row (and so their learned vector and window counts) across showcase
changes, because hosts bring products back. The current showcase is held in canonical
``item_id`` order: the ranking is then independent of the order the host listed items in,
and ties break by ``item_id``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.contract.events import ShowcaseItem
from features.state.rows import RowIndex, grow
from features.state.viewers import category_bucket
from features.state.windows import CHANNELS

ITEM_FEATURES: Final = (
    "log_price",
    "spotlight",
    "log_clicks_w",
    "log_carts_w",
    "log_purchases_w",
    "log_engagement_w",
    "log_watch_min_w",
)
assert ITEM_FEATURES[2:] == tuple(f"log_{c}_w" for c in CHANNELS)  # features() relies on it


@dataclass(slots=True)
class Showcase:
    """The showcase of one ``showcase`` event, items sorted by ``item_id``."""

    event_id: str
    ts: int
    item_ids: list[str]
    rows: np.ndarray  # item rows, aligned with item_ids
    spotlight: int  # index into item_ids, or -1

    def __len__(self) -> int:
        return len(self.item_ids)


class ItemTable:
    """Column store of a room's items."""

    def __init__(self) -> None:
        self.rows = RowIndex()
        self.price = np.zeros(0, dtype=np.float32)
        self.category = np.zeros(0, dtype=np.int64)
        self.last_shown = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def row_of(self, item_id: str) -> int | None:
        return self.rows.get(item_id)

    def ensure(self, item_id: str) -> tuple[int, bool]:
        row = self.rows.get(item_id)
        if row is not None:
            return row, False
        row = self.rows.add(item_id)
        cap = self.rows.capacity
        self.price = grow(self.price, cap)
        self.category = grow(self.category, cap)
        self.last_shown = grow(self.last_shown, cap)
        return row, True

    def show(
        self, event_id: str, ts: int, items: tuple[ShowcaseItem, ...], spotlight: str | None
    ) -> Showcase:
        """Install a new showcase (items are added to the table as needed)."""
        ordered = sorted(items, key=lambda item: item.item_id)
        rows = np.empty(len(ordered), dtype=np.int64)
        for n, item in enumerate(ordered):
            row, _ = self.ensure(item.item_id)
            self.price[row] = item.price
            self.category[row] = category_bucket(item.category)
            self.last_shown[row] = ts
            rows[n] = row
        ids = [item.item_id for item in ordered]
        spot = ids.index(spotlight) if spotlight is not None else -1
        return Showcase(event_id, ts, ids, rows, spot)

    def forget_unshown(self, now: int, after_ms: int, keep: np.ndarray) -> list[int]:
        """Drop items not on show for ``after_ms`` (never those in ``keep``)."""
        keep_set = set(keep.tolist())
        freed: list[int] = []
        for item_id, row in self.rows.items():
            if self.last_shown[row] < now - after_ms and row not in keep_set:
                self.rows.remove(item_id)
                freed.append(row)
        return freed

    def feature_row(self, row: int, on_stage: bool, window: np.ndarray) -> list[float]:
        """``features`` of one item in plain Python (the readable twin)."""
        counts = window[row].tolist() if row < len(window) else [0.0] * len(CHANNELS)
        return [
            math.log1p(float(self.price[row])),
            1.0 if on_stage else 0.0,
            *(math.log1p(c) for c in counts),
        ]

    def features(self, showcase: Showcase, window: np.ndarray) -> np.ndarray:
        """Matrix of ``ITEM_FEATURES`` for the showcase's items (float32)."""
        rows = showcase.rows
        out = np.zeros((len(rows), len(ITEM_FEATURES)), dtype=np.float32)
        np.log1p(self.price[rows], out=out[:, 0])
        if showcase.spotlight >= 0:
            out[showcase.spotlight, 1] = 1.0
        if len(window):  # the momentum channels, in CHANNELS order
            np.log1p(window[rows], out=out[:, 2:])
        return out
