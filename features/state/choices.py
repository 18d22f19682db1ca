"""What a room's viewers chose, against what they could have chosen: the evidence of taste.

A click on the one dress among shoes says more than a click on a dress among dresses. So each
choice (``item_click``, ``add_to_cart``, ``purchase`` of an item on show) adds one unit to the
chosen item's category and item, and spreads one unit of *exposure* evenly over the showcase in
force: a viewer's, an item's or a category's affinity is then chosen / exposed, a ratio that is
1 for "no more than chance" whatever the showcase's mix (``models.choice_features`` shrinks it
toward the room when evidence is thin). Engagement with the stream (heartbeats, likes) is not a
choice among the items on show and is kept apart (``engaged``). Prices of the items acted on are
the evidence of purchasing power, pooled per spend tier for viewers who have not acted yet.

Everything here is a pure aggregator over plain arrays (``ViewerTable``, ``ItemTable``, and
``RoomChoices`` for the room's own totals), updated in event-time order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.state.catalog import ItemTable, Showcase
from features.state.viewers import CATEGORY_SLOTS, SEGMENT_SLOTS, ViewerTable

TIER_BINS: Final = 8  # spend tiers 0..7 pooled apart (beyond: the last bin); then everyone
# How much a price counts as evidence of purchasing power, per action: paying is the strongest.
PRICE_WEIGHT: Final = {
    "item_click": 1.0, "add_to_cart": 1.0, "purchase": 2.0, "push_open": 1.0,
}  # fmt: skip
# How many votes a viewer's choice weighs in the segment statistics at most: whole in each
# of up to four segments (what a platform knows of a viewer besides a numeric tier: an age
# band, a city, a device, a membership), spread evenly over more. Sybils entering with 16
# junk attrs sat in every slot and counted whole in each; five did what ten plain ones do
# (red team 8, docs/evaluation.md).
# One vote in all (1/segments) cost our regimes 0.003 HR@3 (seeds 1-3); their viewers have
# three segments, which four leaves whole.
SEGMENT_VOTES: Final = 4.0
# How far down the funnel an action is (ViewerTable.recent_kind); a push open is a click.
FUNNEL: Final = {"item_click": 1, "add_to_cart": 2, "purchase": 3, "push_open": 1}


class RoomChoices:
    """A room's totals: choices and exposure per category slot, and acted-on log prices per
    spend tier (bin ``TIER_BINS`` holds every viewer, tier or not).

    >>> room = RoomChoices()
    >>> room.tier_bin(2.0, True), room.tier_bin(40.0, True), room.tier_bin(0.0, False)
    (2, 7, 8)
    """

    def __init__(self) -> None:
        # Until the room's first choice these are the shared, read-only zeros (``own``): most
        # rooms of junk ids never see one, and the totals are 4.5 KB.
        self.cat_chosen = _ZEROS[CATEGORY_SLOTS,]
        self.cat_exposed = _ZEROS[CATEGORY_SLOTS,]
        self.tier_w = _ZEROS[TIER_BINS + 1,]
        self.tier_lp = _ZEROS[TIER_BINS + 1,]
        # Choices and exposure per (hashed attr value, category slot): viewers who share an
        # attribute value share some taste, the prior of a viewer with no choices yet.
        self.seg_chosen = _ZEROS[SEGMENT_SLOTS, CATEGORY_SLOTS]
        self.seg_exposed = _ZEROS[SEGMENT_SLOTS, CATEGORY_SLOTS]

    _TOTALS: Final = ("cat_chosen", "cat_exposed", "tier_w", "tier_lp", "seg_chosen",
                      "seg_exposed")

    def own(self, *names: str) -> RoomChoices:
        """The totals ``names`` (default: all), each the room's own array, before anything
        writes into them: fresh ones (and any a restored snapshot lacked) are still the shared
        zeros. (The segments' pair is most of it, and only viewers with attributes write it.)"""
        for name in names or self._TOTALS:
            value = getattr(self, name)
            if not value.flags.writeable:
                setattr(self, name, value.copy())
        return self

    @staticmethod
    def tier_bin(tier: float, has_tier: bool) -> int:
        if not has_tier or not math.isfinite(tier):
            return TIER_BINS
        return min(max(round(tier), 0), TIER_BINS - 1)

    def price_prior(self, tier: float, has_tier: bool) -> float | None:
        """The mean acted-on log price of the viewer's tier, else of the room; None before
        anyone in the room acted."""
        for b in (self.tier_bin(tier, has_tier), TIER_BINS):
            if self.tier_w[b] > 0:
                return float(self.tier_lp[b] / self.tier_w[b])
        return None


def _read_only_zeros(*shapes: tuple[int, ...]) -> dict[tuple[int, ...], np.ndarray]:
    out = {shape: np.zeros(shape, dtype=np.float64) for shape in shapes}
    for array in out.values():
        array.flags.writeable = False  # shared by every room: a write must fail loudly
    return out


_ZEROS: Final = _read_only_zeros((CATEGORY_SLOTS,), (TIER_BINS + 1,),
                                 (SEGMENT_SLOTS, CATEGORY_SLOTS))


@dataclass(slots=True, frozen=True)
class Exposure:
    """What every choice under one showcase spreads, the same for all of them: the room keeps
    it per showcase (``models.choice_columns``) instead of recounting the showcase's
    categories and re-testing its items at each choice."""

    rows: np.ndarray  # the showcase's item rows
    rows_down: np.ndarray  # the same as a column, to index (item, segment) cells
    on_show: frozenset[int]  # the same as a set
    share: float  # 1 / items on show
    spread: np.ndarray  # (CATEGORY_SLOTS,) share × items on show per category slot


def exposure(items: ItemTable, showcase: Showcase) -> Exposure:
    return exposure_of(showcase.rows, items.category[showcase.rows])


def exposure_of(rows: np.ndarray, slots: np.ndarray) -> Exposure:
    """``exposure`` of the showcase of item ``rows``, whose category slots are ``slots``."""
    share = 1.0 / len(rows) if len(rows) else 0.0
    spread = np.bincount(slots, minlength=CATEGORY_SLOTS) * share
    return Exposure(rows, rows[:, None], frozenset(rows.tolist()), share, spread)


def record_choice(
    viewers: ViewerTable,
    items: ItemTable,
    room: RoomChoices,
    row: int,
    item: int,
    showcase: Showcase | None,
    action: str,
    ts: int,
    shown: Exposure | None = None,
    vote: float = 1.0,
) -> None:
    """Viewer ``row`` acted (``action``) on item row ``item`` at ``ts``. Opening a push
    counts: the viewer picked that item among those pushed. ``shown``: ``exposure`` of the
    showcase, if the caller keeps it. ``vote``: how much the choice counts in the room's and
    the items' statistics (``features.state.votes``: 0 for a viewer's repeat of an item); the
    viewer's own always count it whole. ``record_choice_reference`` is the readable twin."""
    if showcase is not None and len(showcase):
        shown = shown if shown is not None else exposure(items, showcase)
        if item in shown.on_show:
            share, spread = shown.share, shown.spread
            chosen = int(items.category[item])
            viewers.cat_exposed[row] += spread
            viewers.cat_chosen[row, chosen] += 1.0
            if vote:
                if vote != 1.0:
                    share, spread = share * vote, spread * vote
                room.own("cat_exposed", "cat_chosen")
                room.cat_exposed += spread
                items.exposed[shown.rows] += share  # showcase rows are distinct
                room.cat_chosen[chosen] += vote
                items.chosen[item] += vote
                segments = viewers.segments[row].nonzero()[0]
                if segments.size:  # a viewer's attrs weigh at most SEGMENT_VOTES votes
                    each = min(1.0, SEGMENT_VOTES / segments.size)
                    room.own("seg_exposed", "seg_chosen")
                    items.own_segments()
                    room.seg_exposed[segments] += spread * each
                    room.seg_chosen[segments, chosen] += vote * each
                    items.seg_exposed[shown.rows_down, segments] += share * each
                    items.seg_chosen[item, segments] += vote * each
    remember(viewers.recent_item[row], viewers.recent_ts[row], viewers.recent_kind[row],
             item + 1, seconds(ts), FUNNEL.get(action, 1))
    _price_evidence(viewers, items, room, row, item, action, vote)


def _price_evidence(viewers: ViewerTable, items: ItemTable, room: RoomChoices, row: int,
                    item: int, action: str, vote: float) -> None:
    """The price acted on, as evidence of the viewer's budget and (by ``vote``) their
    tier's."""
    weight = PRICE_WEIGHT.get(action, 1.0)
    log_price = math.log1p(float(items.price[item]))
    viewers.price_w[row] += weight
    viewers.price_lp[row] += weight * log_price
    if not vote:
        return
    weight *= vote
    room.own("tier_w", "tier_lp")
    own = room.tier_bin(float(viewers.tier[row]), bool(viewers.has_tier[row]))
    for b in (own, TIER_BINS) if own != TIER_BINS else (TIER_BINS,):
        room.tier_w[b] += weight
        room.tier_lp[b] += weight * log_price


def record_choice_reference(
    viewers: ViewerTable,
    items: ItemTable,
    room: RoomChoices,
    row: int,
    item: int,
    showcase: Showcase | None,
    action: str,
    ts: int,
    vote: float = 1.0,
) -> None:
    """``record_choice`` as first written, one step at a time: the readable twin
    (``tests/features/state/test_choices_fast.py``)."""
    if showcase is not None and len(showcase) and bool((showcase.rows == item).any()):
        share = 1.0 / len(showcase)
        spread = np.bincount(items.category[showcase.rows], minlength=CATEGORY_SLOTS) * share
        viewers.cat_exposed[row] += spread
        room.own().cat_exposed += spread * vote
        items.exposed[showcase.rows] += share * vote  # showcase rows are distinct
        chosen = int(items.category[item])
        viewers.cat_chosen[row, chosen] += 1.0
        room.cat_chosen[chosen] += vote
        items.chosen[item] += vote
        segments = np.flatnonzero(viewers.segments[row])
        if segments.size:  # at most SEGMENT_VOTES votes, split evenly over more segments
            each = vote * min(1.0, SEGMENT_VOTES / segments.size)
            room.seg_exposed[segments] += spread * each
            room.seg_chosen[segments, chosen] += each
            items.own_segments().seg_exposed[np.ix_(showcase.rows, segments)] += share * each
            items.seg_chosen[item, segments] += each
    remember_reference(viewers.recent_item[row], viewers.recent_ts[row],
                       viewers.recent_kind[row], item + 1, seconds(ts), FUNNEL.get(action, 1))
    _price_evidence(viewers, items, room, row, item, action, vote)  # one version


def record_engagement(viewers: ViewerTable, row: int, item: int, ts: int) -> None:
    """Viewer ``row`` liked, commented, shared or gifted while item row ``item`` was on stage."""
    viewers.engaged_item[row] = item + 1
    viewers.engaged_ts[row] = seconds(ts)


def seconds(ts: int) -> int:
    """Event time in whole seconds, as the viewer table keeps it (``uint32``: until 2106).

    >>> seconds(1_764_331_200_999)
    1764331200
    """
    return min(max(ts // 1000, 0), 2**32 - 1)


def remember(slots: np.ndarray, times: np.ndarray, kinds: np.ndarray, key: int, ts: int,
             kind: int) -> None:
    """Put ``key`` first in the newest-first ``slots`` (moving it up if already there).

    >>> s, t, k = np.zeros(3, np.int32), np.zeros(3, np.int64), np.zeros(3, np.int8)
    >>> for key, ts in ((5, 1), (6, 2), (5, 3), (7, 4)): remember(s, t, k, key, ts, 1)
    >>> s.tolist(), t.tolist()
    ([7, 5, 6], [4, 3, 2])
    """
    keys = slots.tolist()  # three short rows: element by element beats array operations
    last = keys.index(key) if key in keys else len(keys) - 1
    for column, first in ((slots, key), (times, ts), (kinds, kind)):
        for n in range(last, 0, -1):
            column[n] = column[n - 1]
        column[0] = first


def remember_reference(slots: np.ndarray, times: np.ndarray, kinds: np.ndarray, key: int,
                       ts: int, kind: int) -> None:
    """``remember`` on the arrays, as first written (the readable twin)."""
    hits = np.flatnonzero(slots == key)
    last = int(hits[0]) if hits.size else len(slots) - 1
    for column in (slots, times, kinds):
        column[1 : last + 1] = column[:last].copy()
    slots[0], times[0], kinds[0] = key, ts, kind


def forget_items(viewers: ViewerTable, freed: list[int]) -> None:
    """Item rows ``freed`` may go to other items: no viewer's memory may point at them."""
    if not freed:
        return
    keys = np.array(freed, dtype=np.int64) + 1
    gone = np.isin(viewers.recent_item, keys)
    viewers.recent_item[gone] = 0
    viewers.recent_ts[gone] = 0
    viewers.recent_kind[gone] = 0
    viewers.engaged_item[np.isin(viewers.engaged_item, keys)] = 0


def renumber_items(viewers: ViewerTable, new_row: np.ndarray) -> None:
    """After items are compacted (``new_row[old] = new``, -1 for gone): follow the rows."""
    for name in ("recent_item", "engaged_item"):
        keys = getattr(viewers, name).astype(np.int64)
        moved = np.where(keys > 0, new_row[np.maximum(keys - 1, 0)] + 1, 0)
        setattr(viewers, name, moved.astype(np.int32))
