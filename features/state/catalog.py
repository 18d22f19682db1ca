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
from features.contract.limits import MAX_MONEY
from features.state.attr_numbers import attr_number
from features.state.rows import (
    RowIndex,
    first_come_slot,
    grow,
    no_rows,
    take_columns,
    unwritten,
    vocabulary_slot,
    written,
)
from features.state.viewers import CATEGORY_SLOTS, SEGMENT_SLOTS

# How many numeric item attrs a room learns a weight for (the choice model's ``item_attr_*``
# features): enough for what a platform says of a product (rating, reviews, discount, stock,
# shipping, a deal's end), few enough that a room's ~hundreds of choices can fit them.
ATTR_SLOTS: Final = 8
# An attr this large is read as an epoch-ms time (1e12 ms is September 2001): a deal's end or
# a launch date means something as the time from now, not as a count of milliseconds.
EPOCH_MS: Final = 1e12


def no_attrs(n: int) -> np.ndarray:
    """The attrs of ``n`` items that have none (NaN: not known)."""
    return np.full((n, ATTR_SLOTS), np.nan)


def attr_value(value: float, ts: int) -> float:
    """A numeric attr as a feature reads it: a signed log, so that a count of reviews and a
    rating both move by steps a weight can take (seconds from ``ts`` for an epoch-ms time).

    >>> attr_value(0.0, 0), round(attr_value(99.0, 0), 3), round(attr_value(-99.0, 0), 3)
    (0.0, 4.605, -4.605)
    >>> round(attr_value(1_764_331_260_000.0, 1_764_331_200_000), 3)  # a minute from now
    4.111
    """
    if abs(value) >= EPOCH_MS:
        value = (value - ts) / 1000.0
    return math.copysign(math.log1p(abs(value)), value)


@dataclass(slots=True)
class Showcase:
    """The showcase of one ``showcase`` event, items sorted by ``item_id``."""

    event_id: str
    ts: int
    item_ids: list[str]
    rows: np.ndarray  # item rows, aligned with item_ids
    spotlight: int  # index into item_ids, or -1
    # Each item's place in the host's list (the contract's ``items`` are ordered: 0 first),
    # aligned with item_ids; all 0 in a showcase restored from a snapshot that predates it.
    place: np.ndarray
    # (N, ATTR_SLOTS) float64 each item's numeric attrs as ``attr_value`` reads them, by the
    # room's attr slot (``ItemTable.attr_names``); NaN where the item does not have it.
    attrs: np.ndarray

    def __len__(self) -> int:
        return len(self.item_ids)


class ItemTable:
    """Column store of a room's items."""

    def __init__(self) -> None:
        self.rows = RowIndex()
        self.price = no_rows(np.float32)
        self.category = no_rows(np.int64)  # the category's slot (category_slot)
        self.last_shown = no_rows(np.int64)
        self.shown_since = no_rows(np.int64)  # start of its current run on show
        # Population appeal: choices of the item against its exposure (see viewers.py).
        self.chosen = no_rows(np.float32)
        self.exposed = no_rows(np.float32)
        # … per segment slot: ``unwritten`` zeros until a viewer with attributes chooses
        # (``own_segments``), the most of a small room's item table otherwise.
        self.seg_chosen = unwritten(np.float32, 0, SEGMENT_SLOTS)
        self.seg_exposed = unwritten(np.float32, 0, SEGMENT_SLOTS)
        self.category_names: list[str] = []  # slot -> category, in order of first sight
        self.attr_names: list[str] = []  # slot -> numeric item attr, in order of first sight

    def __len__(self) -> int:
        return len(self.rows)

    def take_rows(self, live: np.ndarray, capacity: int) -> None:
        """Every column follows the rows its index kept (``RowColumns``)."""
        take_columns(self, live, capacity)

    def own_segments(self) -> ItemTable:
        """The per-segment counts in memory of their own, before anything writes into them."""
        self.seg_chosen, self.seg_exposed = written(self.seg_chosen), written(self.seg_exposed)
        return self

    def ensure(self, item_id: str) -> tuple[int, bool]:
        row = self.rows.get(item_id)
        if row is not None:
            return row, False
        row = self.rows.add(item_id)
        cap = self.rows.capacity
        self.price = grow(self.price, cap)
        self.category = grow(self.category, cap)
        self.last_shown = grow(self.last_shown, cap)
        self.shown_since = grow(self.shown_since, cap)
        self.chosen = grow(self.chosen, cap)
        self.exposed = grow(self.exposed, cap)
        self.seg_chosen = grow(self.seg_chosen, cap)
        self.seg_exposed = grow(self.seg_exposed, cap)
        return row, True

    def category_slot(self, category: str) -> int:
        """The room's slot for ``category``: exact for the first ``CATEGORY_SLOTS`` categories
        seen (so unrelated tastes never mix in a typical room), shared by hash beyond.

        >>> t = ItemTable()
        >>> t.category_slot("shoes"), t.category_slot("dresses"), t.category_slot("shoes")
        (0, 1, 0)
        """
        return vocabulary_slot(self.category_names, category, CATEGORY_SLOTS, "category")

    def attr_slot(self, name: str) -> int | None:
        """The room's slot for the numeric item attr ``name``: the first ``ATTR_SLOTS`` names
        seen, each with a weight of its own to learn; None beyond (a hashed slot would mix
        two attrs' scales into one weight).

        >>> t = ItemTable()
        >>> [t.attr_slot(n) for n in ("rating", "stock", "rating")], t.attr_names
        ([0, 1, 0], ['rating', 'stock'])
        """
        return first_come_slot(self.attr_names, name, ATTR_SLOTS)

    def show(
        self,
        event_id: str,
        ts: int,
        items: tuple[ShowcaseItem, ...],
        spotlight: str | None,
        previous: Showcase | None = None,
    ) -> Showcase:
        """Install a new showcase (items are added to the table as needed); an item that was
        not in the ``previous`` showcase starts a new run on show (``shown_since``)."""
        listed = {item.item_id: n for n, item in enumerate(items)}
        ordered = sorted(items, key=lambda item: item.item_id)
        rows = np.empty(len(ordered), dtype=np.int64)
        before = set(previous.rows.tolist()) if previous is not None else set()
        for n, item in enumerate(ordered):
            row, _ = self.ensure(item.item_id)
            # The decoder refuses prices past MAX_MONEY; held there anyway, so that no price
            # can overflow float32 into an infinite feature.
            finite = item.price == item.price  # not NaN
            self.price[row] = min(max(item.price, 0.0), MAX_MONEY) if finite else 0.0
            self.category[row] = self.category_slot(item.category)
            if row not in before:
                self.shown_since[row] = ts
            self.last_shown[row] = ts
            rows[n] = row
        ids = [item.item_id for item in ordered]
        spot = ids.index(spotlight) if spotlight is not None else -1
        place = np.array([listed[item_id] for item_id in ids], dtype=np.int64)
        attrs = np.full((len(ordered), ATTR_SLOTS), np.nan)
        for n, item in enumerate(ordered):
            for name, value in item.attrs.items():
                number = attr_number(value)  # a label is not used (a string may spell one)
                if number is not None:
                    slot = self.attr_slot(name)
                    if slot is not None:
                        attrs[n, slot] = attr_value(number, ts)
        return Showcase(event_id, ts, ids, rows, spot, place, attrs)

    def forget_unshown(self, now: int, after_ms: int, keep: np.ndarray) -> list[int]:
        """Drop items not on show for ``after_ms`` (never those in ``keep``)."""
        keep_set = set(keep.tolist())
        freed: list[int] = []
        for item_id, row in self.rows.items():
            if self.last_shown[row] < now - after_ms and row not in keep_set:
                self.rows.remove(item_id)
                for column in (self.chosen, self.exposed, self.seg_chosen, self.seg_exposed):
                    if column.flags.writeable:  # (else unwritten: zero already)
                        column[row] = 0.0  # the row may go to a new item
                freed.append(row)
        return freed
