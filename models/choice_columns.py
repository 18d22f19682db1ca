"""What a showcase fixes for as long as it is on show, computed once per showcase.

A room learns from the whole showcase at every choice (``features_row``), and most choices
happen under the same showcase. The items' category slots, prices, the time each started its
run on show and the spotlight are written when a showcase is installed (``ItemTable.show``)
and not again until the next one, so the columns built from them alone (the bias, the
spotlight, the log price) and the lookups the viewer's features need (item row to showcase
position, the items of each category slot) are the same at every choice under it.

They stay valid for as long as the showcase's ``rows`` array is the same object: a new
showcase, a restored room and compaction (which renumbers the rows) each bring a new one, and
``ColumnCache.get`` then rebuilds. The cache is derived state, never part of a snapshot. It
also keeps the showcase's ``Exposure``, what ``record_choice`` spreads at each choice.

What only a choice needs (``exposure``, and ``by_slot`` for an engaged viewer's features) is
built at its first use, from the category slots captured with the rest: a room whose viewers
only watch holds every room's cache, and those parts were half of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from features.state.catalog import ItemTable, Showcase
from features.state.choices import Exposure, exposure_of


@dataclass(slots=True, frozen=True)
class ShowcaseColumns:
    """The per-item columns of one showcase that only the showcase decides."""

    showcase: Showcase
    rows: np.ndarray  # the showcase's item rows (the very array: the validity check)
    rows_down: np.ndarray  # the same as a column, to index (item, segment) cells
    slots: np.ndarray  # each item's category slot
    position: dict[int, int]  # item row -> index in the showcase
    log_price: np.ndarray  # float64 log(1 + price)
    shown_since: np.ndarray  # int64 event time each item's current run on show began
    spotlight: np.ndarray  # float64 one-hot of the spotlight (all zero without one)
    listed: np.ndarray  # float64 log(1 + the item's place in the host's list)
    relative_price: np.ndarray  # float64 log price less its category's mean on the showcase
    attrs: np.ndarray  # float64 (N, ATTR_SLOTS) the items' numeric attrs, standardised
    built_by_slot: dict[int, np.ndarray] | None = None  # ``by_slot`` once built
    built_exposure: Exposure | None = None  # ``exposure`` once built

    @property
    def by_slot(self) -> dict[int, np.ndarray]:
        """Category slot -> indices of its items in the showcase."""
        by_slot = self.built_by_slot
        if by_slot is None:
            lists: dict[int, list[int]] = {}
            for j, slot in enumerate(self.slots.tolist()):
                lists.setdefault(slot, []).append(j)
            by_slot = {slot: np.array(js, dtype=np.int64) for slot, js in lists.items()}
            object.__setattr__(self, "built_by_slot", by_slot)
        return by_slot

    @property
    def exposure(self) -> Exposure:
        """What each choice under the showcase spreads (``record_choice``)."""
        shown = self.built_exposure
        if shown is None:
            shown = exposure_of(self.rows, self.slots)
            object.__setattr__(self, "built_exposure", shown)
        return shown


def showcase_columns(items: ItemTable, showcase: Showcase) -> ShowcaseColumns:
    """The columns of ``showcase`` as ``items`` holds them now."""
    rows = showcase.rows
    spotlight = np.zeros(len(rows))
    if showcase.spotlight >= 0:
        spotlight[showcase.spotlight] = 1.0
    slots = items.category[rows]
    log_price = np.log1p(items.price[rows].astype(np.float64))
    return ShowcaseColumns(
        showcase=showcase,
        rows=rows,
        rows_down=rows[:, None],
        slots=slots,
        position={row: j for j, row in enumerate(rows.tolist())},
        log_price=log_price,
        shown_since=items.shown_since[rows],
        spotlight=spotlight,
        listed=np.log1p(showcase.place.astype(np.float64)),
        relative_price=relative_prices(log_price, slots),
        attrs=standardised(showcase.attrs),
    )


# A column whose values differ by less than this (in signed-log units) says nothing: rounding.
SPREAD: Final = 1e-9


def standardised(attrs: np.ndarray) -> np.ndarray:
    """Each attr column less its mean over the items on show that have it, over their standard
    deviation; 0 for an item without it, and for a column with no spread. An attr's meaning
    and scale are the platform's, unknown to the job: standardised on the showcase, a rating
    or a stock count says how far an item stands out from the alternatives in view, in units
    a weight of the same prior fits for any attr (each room learns its own).

    >>> nan = float("nan")
    >>> standardised(np.array([[1.0, 2.0], [3.0, 2.0], [nan, 2.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    """
    known = np.isfinite(attrs)
    count = known.sum(axis=0)
    values = np.where(known, attrs, 0.0)
    mean = values.sum(axis=0) / np.maximum(count, 1)
    centred = np.where(known, attrs - mean, 0.0)
    spread = np.sqrt((centred * centred).sum(axis=0) / np.maximum(count, 1))
    scale = np.divide(1.0, spread, out=np.zeros_like(spread), where=spread > SPREAD)
    return centred * scale


def relative_prices(log_price: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Each item's log price less the mean log price of the items of its category on the same
    showcase: how dear it looks next to what it is compared with (0 for an item alone in its
    category). A price means something against the alternatives in view, and that reading
    differs by world and viewer; each room learns its weight.

    >>> relative_prices(np.log(np.array([10.0, 40.0, 7.0])), np.array([0, 0, 1])).round(3).tolist()
    [-0.693, 0.693, 0.0]
    """
    if not len(slots):
        return np.zeros(0)
    _, group, counts = np.unique(slots, return_inverse=True, return_counts=True)
    means = np.bincount(group, weights=log_price) / counts
    return log_price - means[group]


class ColumnCache:
    """The last showcase's columns, rebuilt when the showcase (or its rows) changed."""

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns: ShowcaseColumns | None = None

    def get(self, items: ItemTable, showcase: Showcase) -> ShowcaseColumns:
        columns = self.columns
        if columns is None or columns.showcase is not showcase or columns.rows is not showcase.rows:
            columns = self.columns = showcase_columns(items, showcase)
        return columns
