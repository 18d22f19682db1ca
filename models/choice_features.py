"""The one feature table of a (viewer, item on show) pair, read by ranking and learning alike.

Two groups, the two factors of the score (``models.learners.listwise``):

* ``TASTE`` (attention): the viewer's exposure-normalised affinity for the item's category,
  shrunk toward the room's (``features.state.choices``); short-term intent (the item was acted
  on seconds ago, fading over the conversion window); the item or category on stage when the
  viewer last engaged with the stream (a learned weight decides whether that carries taste);
  and the learned vectors ``q·k/√d``.
* ``POWER`` (propensity): an intercept, the spotlight, the item's and its category's appeal
  normalised by exposure (the cold-start signal), momentum in the window, the price, and the
  price above and below the viewer's purchasing power. That estimate exists from the first
  event: acted-on prices of the viewer, shrunk toward those of their spend tier (then the
  room), so a tier is evidence before any purchase. Above budget and below budget have their
  own weights: an item one cannot afford costs more than a cheap one. Then the item's place
  in the host's list (``log(1 + place)``): a platform shows the contract's ordered ``items``
  in order, and a viewer may look at the first few only; each room learns how much that
  counts (nothing, where the order means nothing). Last, the price against the items of its
  category on show (``relative_price``): a price is read against the alternatives in view,
  cheap next to its neighbours for some viewers, a sign of quality for others. And what the
  platform says of the item (``item_attr_*``: its numeric ``attrs``, by the room's slots,
  standardised over the showcase, ``models.choice_columns.standardised``): what a rating or a
  stock count means is the platform's, so each room learns it from 0.

``features_row`` gives the table of one viewer as arrays (what a room learns from at each
choice); ``features_one`` is its readable twin in plain Python; ``models.choice_scoring`` scores
a whole room without building the table (``tests/models/test_choice_features.py`` and
``test_choice_scoring.py`` check the three agree). Adding a feature is one name here and one
term in each (the twin tests fail until they agree).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.state.catalog import ATTR_SLOTS, ItemTable, Showcase
from features.state.choices import TIER_BINS, RoomChoices
from features.state.viewers import ViewerTable
from features.state.windows import CARTS, CLICKS, PURCHASES
from models.choice_columns import SPREAD, ColumnCache, showcase_columns
from models.learners.protocols import VectorLearner

TASTE: Final = ("category_affinity", "segment_affinity", "clicked", "carted", "bought",
                "engaged_item", "engaged_category", "vectors", "segment_item")
ATTRS: Final = tuple(f"item_attr_{n}" for n in range(ATTR_SLOTS))  # the room's attr slots
POWER: Final = ("bias", "spotlight", "item_appeal", "category_appeal", "momentum", "fresh",
                "log_price", "over_budget", "under_budget", "listed", "relative_price", *ATTRS)
FUNNEL_FEATURES: Final = ("clicked", "carted", "bought")  # ViewerTable.recent_kind 1, 2, 3
FEATURES: Final = (*TASTE, *POWER)
_COL: Final = {name: n for n, name in enumerate(FEATURES)}
_FUNNEL: Final = {kind: _COL[name] for kind, name in enumerate(FUNNEL_FEATURES, 1)}
_ATTR_COLS: Final = slice(_COL[ATTRS[0]], _COL[ATTRS[-1]] + 1)
# Where a room with no choices yet starts (each in log-odds per unit of its feature, the ratios
# being logs already); learning moves them. ``POOLED``: the choice model fitted on 108 worlds of
# four simulators written apart (ours and tests/worlds' three), each simulator weighing the
# same, printed by `roomrank priors` (flows/priors.py; docs/evaluation.md, "Priors learned from
# four simulators"). Measured with each simulator left out of the pool, it predicts the next
# choice better than the hand-written priors did on three of the four.
POOLED: Final = {
    "category_affinity": 0.47,
    "segment_affinity": 0.05,
    "clicked": 2.57,
    "carted": 2.56,
    "bought": 0.66,
    "engaged_category": -0.07,
    "vectors": 0.47,
    "segment_item": 0.07,
    "bias": -0.54,
    "spotlight": 1.12,
    "item_appeal": 0.79,
    "category_appeal": -0.03,
    "momentum": 0.26,
    "fresh": 0.25,
    "log_price": -0.39,
    "over_budget": 0.09,
    "under_budget": -0.41,
    "listed": -0.06,  # added 2026-12-05: `roomrank priors --seeds 1001-1002`, this row only
    # added 2026-12-05, this row only: `roomrank priors --seeds 1001-1002` over the four
    # simulators above and tests/worlds/shelf_world.py (whose `anchoring` showed it missing)
    "relative_price": -0.10,
}
# Except what the viewer already has in front of them: the item on stage and the items they
# have just clicked, carted or bought. Every world fits them high (they predict the next choice
# best), but a push of them adds little to what the viewer would do anyway: started from the
# pooled values, pushes sold 4-8 % less in the closed loop; with these four at the old priors
# they sold as much as before (docs/evaluation.md). Rooms still learn them from their choices.
ALREADY_IN_VIEW: Final = {"clicked": 1.0, "carted": 1.0, "bought": 0.0, "spotlight": 0.5}
# An item attr's meaning is the platform's (a rating, a stock count, a deal's end), and its
# slot is the room's own (``ItemTable.attr_slot``), so no pool can say its sign: each starts
# at 0 (no effect) and its room learns it.
UNKNOWN_ATTRS: Final = dict.fromkeys(ATTRS, 0.0)
PRIORS: Final = {**POOLED, **ALREADY_IN_VIEW, **UNKNOWN_ATTRS}
# How firmly a new room holds each starting weight: the Newton learner's prior precision, one
# over the variance of the weight between the 22 world types fitted above (less the seeds'
# scatter), within [1, 25] (`roomrank priors` prints it; models.offline.pooled_prior). Worlds
# agree on the price slope (25: it barely moves) and disagree on the spotlight (1.4: a room
# finds its own after a few dozen choices). Until 2026-12-04 every weight had 3, and a room
# ranked with the better of that learner and small SGD steps (docs/evaluation.md).
PRECISION: Final = {
    "category_affinity": 8.98,
    "segment_affinity": 25.0,
    "clicked": 4.7,
    "carted": 3.93,
    "bought": 2.91,
    "engaged_item": 25.0,
    "engaged_category": 25.0,
    "vectors": 14.23,
    "segment_item": 25.0,
    "bias": 2.99,
    "spotlight": 1.4,
    "item_appeal": 2.3,
    "category_appeal": 24.35,
    "momentum": 6.93,
    "fresh": 1.95,
    "log_price": 25.0,
    "over_budget": 7.9,
    "under_budget": 25.0,
    "listed": 25.0,
    "relative_price": 7.7,
    # An item attr's weight, by the same rule over the worlds whose items carry attrs: the
    # standardised attrs' weights fitted there (the stall world's `attr_driven`,
    # `persona_match` and `noise_attrs`, the bazaar world's `flash`) have a mean square of
    # 0.036 about 0 (its prior: what a slot holds, and its sign, is the platform's), so
    # 1 / 0.036 ≈ 28, held to 25. A room's few hundred choices then move a weight where an
    # attr counts, and the noise of eight weights costs little where none does (it cost the
    # control world 0.007 at the reasoned 4 this replaced; docs/evaluation.md).
    **dict.fromkeys(ATTRS, 25.0),
}
VIEWER_PRIOR: Final = 1.0  # a viewer's affinity starts as this many choices at the room's rate
ROOM_PRIOR: Final = 2.0  # a room's (and item's) ratio starts as this many choices at chance
BUDGET_PRIOR: Final = 2.0  # a viewer's budget starts as this many actions at their tier's mean


@dataclass(slots=True)
class Scene:
    """What the features read: a room's state at a trigger time."""

    viewers: ViewerTable
    items: ItemTable
    room: RoomChoices
    showcase: Showcase
    window: np.ndarray  # (item rows × channels) at ``now``
    mf: VectorLearner
    now: int
    horizon_ms: int  # how long intent lasts (the conversion window)
    columns: ColumnCache | None = None  # the showcase's own columns, kept by the room


def _ratio(chosen: np.ndarray, exposed: np.ndarray, prior: float) -> np.ndarray:
    return np.log((chosen + prior) / (exposed + prior))


def room_rates(room: RoomChoices) -> np.ndarray:
    """(C,) each category slot's log choice ratio in the room, shrunk toward chance."""
    return _ratio(room.cat_chosen, room.cat_exposed, ROOM_PRIOR)


def segment_rates(room: RoomChoices) -> np.ndarray:
    """(B, C) per attr bucket: the bucket's log ratio over the room's, shrunk toward it."""
    base = room_rates(room)
    rate = np.exp(base)
    return np.log((room.seg_chosen + ROOM_PRIOR * rate) / (room.seg_exposed + ROOM_PRIOR)) - base


def segment_item_rates(scene: Scene, segments: np.ndarray | None = None) -> np.ndarray:
    """(N, S) per showcase item and segment slot (``segments`` only, if given): the segment's
    log choice ratio of the item over the item's own, shrunk toward it."""
    items, rows = scene.items, scene.showcase.rows
    base = _ratio(items.chosen[rows].astype(np.float64), items.exposed[rows].astype(np.float64),
                  ROOM_PRIOR)[:, None]
    cells = np.ix_(rows, segments) if segments is not None else rows
    chosen = items.seg_chosen[cells].astype(np.float64)
    exposed = items.seg_exposed[cells].astype(np.float64)
    return np.log((chosen + ROOM_PRIOR * np.exp(base)) / (exposed + ROOM_PRIOR)) - base


def item_columns(scene: Scene) -> np.ndarray:
    """(N, 6) the item-only power features, in ``POWER[1:7]`` order."""
    sc, items = scene.showcase, scene.items
    rows = sc.rows
    out = np.zeros((len(rows), 6))
    if sc.spotlight >= 0:
        out[sc.spotlight, 0] = 1.0
    out[:, 1] = _ratio(items.chosen[rows].astype(np.float64),
                       items.exposed[rows].astype(np.float64), ROOM_PRIOR)
    out[:, 2] = room_rates(scene.room)[items.category[rows]]
    if len(scene.window):
        counts = scene.window[rows]
        out[:, 3] = np.log1p(counts[:, CLICKS] + counts[:, CARTS] + counts[:, PURCHASES])
    out[:, 4] = np.exp(-(scene.now - items.shown_since[rows]) / max(scene.horizon_ms, 1))
    out[:, 5] = np.log1p(items.price[rows].astype(np.float64))
    return out


def log_budgets(scene: Scene, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each viewer's log budget and whether there is any evidence for it yet: their acted-on
    log prices shrunk toward their tier's mean (``RoomChoices.price_prior``, as arrays)."""
    v, room = scene.viewers, scene.room
    tier, has_tier = v.tier.take(rows), v.has_tier.take(rows) > 0
    tiered = has_tier & np.isfinite(tier)
    bins = np.where(tiered, np.clip(np.rint(np.where(tiered, tier, 0.0)), 0, TIER_BINS - 1),
                    TIER_BINS)
    evidence = room.tier_w > 0
    by_bin = np.divide(room.tier_lp, room.tier_w, out=np.full(len(room.tier_w), np.nan),
                       where=evidence)  # NaN where a bin has no evidence
    by_bin = np.where(evidence, by_bin, by_bin[TIER_BINS])
    prior = by_bin[bins.astype(np.int64)]
    known = np.isfinite(prior)
    w = v.price_w.take(rows).astype(np.float64)
    lp = v.price_lp.take(rows).astype(np.float64)
    budget = (lp + BUDGET_PRIOR * np.where(known, prior, 0.0)) / (w + BUDGET_PRIOR)
    return np.where(known, budget, 0.0), known


def features_row(scene: Scene, row: int) -> np.ndarray:
    """(N, F) features of viewer ``row`` × the showcase, in ``FEATURES`` order: what a room
    learns from at each choice (and what ``--learner river`` scores), so it is written for
    one viewer with few array operations; ``features_one`` is its plain-Python twin.

    What the showcase alone decides comes from ``scene.columns`` (once per showcase); the
    rest is recomputed, since every choice moves the room's and the items' ratios."""
    sc, v, items, room, mf = scene.showcase, scene.viewers, scene.items, scene.room, scene.mf
    cols = (scene.columns.get(items, sc) if scene.columns is not None
            else showcase_columns(items, sc))
    rows, slots = cols.rows, cols.slots
    out = np.zeros((len(rows), len(FEATURES)))
    base = room_rates(room)
    rate = np.exp(base)
    # Casts folded into the arithmetic (float16/32 to float64 is exact): float64 sums
    # (``dtype``, or a float64 operand), as ``.astype(np.float64)`` first would give.
    affinity = np.log((v.cat_chosen[row] + VIEWER_PRIOR * rate)
                      / np.add(v.cat_exposed[row], VIEWER_PRIOR, dtype=np.float64)) - base
    out[:, _COL["category_affinity"]] = affinity[slots]
    appeal = np.log(np.add(items.chosen[rows], ROOM_PRIOR, dtype=np.float64)
                    / np.add(items.exposed[rows], ROOM_PRIOR, dtype=np.float64))
    member = v.segments[row].nonzero()[0]
    if member.size:
        segment = np.log((room.seg_chosen.take(member, axis=0) + ROOM_PRIOR * rate)
                         / (room.seg_exposed.take(member, axis=0) + ROOM_PRIOR)) - base
        out[:, _COL["segment_affinity"]] = segment.sum(axis=0)[slots]
        cells = cols.rows_down, member
        by_item = appeal[:, None]
        out[:, _COL["segment_item"]] = (np.log(
            (items.seg_chosen[cells] + ROOM_PRIOR * np.exp(by_item))
            / np.add(items.seg_exposed[cells], ROOM_PRIOR, dtype=np.float64)) - by_item
        ).sum(axis=1)
    # The funnel and engagement columns: a few cells of the showcase, found by position.
    now_s, horizon_s = scene.now / 1000.0, max(scene.horizon_ms, 1) / 1000.0
    position = cols.position
    for key, ts, kind in zip(v.recent_item[row].tolist(), v.recent_ts[row].tolist(),
                             v.recent_kind[row].tolist(), strict=True):
        j = position.get(key - 1) if key else None
        column = _FUNNEL.get(kind)  # 1, 2, 3 next to an item (choices.remember writes both)
        if j is not None and column is not None:
            out[j, column] += math.exp(-(now_s - ts) / horizon_s)
    engaged = int(v.engaged_item[row])
    if engaged:
        fade = math.exp(-(now_s - int(v.engaged_ts[row])) / horizon_s)
        j = position.get(engaged - 1)
        if j is not None:
            out[j, _COL["engaged_item"]] = fade
        same = cols.by_slot.get(int(items.category[engaged - 1]))
        if same is not None:
            out[same, _COL["engaged_category"]] = fade
    if mf.user_updates[row] > 0:
        keys = (mf.items.take(rows, axis=0).astype(np.float64, copy=False)
                @ mf.users[row].astype(np.float64, copy=False))
        keys /= math.sqrt(max(mf.n_factors, 1))
        out[:, _COL["vectors"]] = np.where(mf.item_updates[rows] > 0, keys, 0.0)
    out[:, _COL["bias"]] = 1.0
    out[:, _COL["spotlight"]] = cols.spotlight
    out[:, _COL["item_appeal"]] = appeal
    out[:, _COL["category_appeal"]] = base[slots]
    if len(scene.window):  # float32 sums and log1p, as the ranking's item_columns
        counts = scene.window[rows]
        out[:, _COL["momentum"]] = np.log1p(counts[:, CLICKS] + counts[:, CARTS]
                                            + counts[:, PURCHASES])
    fresh = out[:, _COL["fresh"]]  # exp(−age / horizon), −age = shown_since − now exactly
    np.divide(cols.shown_since - scene.now, max(scene.horizon_ms, 1), out=fresh)
    np.exp(fresh, out=fresh)
    out[:, _COL["log_price"]] = cols.log_price
    prior = room.price_prior(float(v.tier[row]), bool(v.has_tier[row]))
    if prior is not None:
        budget = (float(v.price_lp[row]) + BUDGET_PRIOR * prior) / (
            float(v.price_w[row]) + BUDGET_PRIOR)
        gap = cols.log_price - budget
        np.maximum(gap, 0.0, out=out[:, _COL["over_budget"]])
        np.negative(gap, out=gap)
        np.maximum(gap, 0.0, out=out[:, _COL["under_budget"]])
    out[:, _COL["listed"]] = cols.listed
    out[:, _COL["relative_price"]] = cols.relative_price
    out[:, _ATTR_COLS] = cols.attrs
    return out


def features_one(scene: Scene, row: int) -> list[list[float]]:
    """``features_block`` of one viewer, item by item in plain Python (the readable twin)."""
    sc, v, items, room, mf = scene.showcase, scene.viewers, scene.items, scene.room, scene.mf
    horizon = max(scene.horizon_ms, 1) / 1000.0  # recent_ts and engaged_ts are in seconds
    now = scene.now / 1000.0

    def ratio(chosen: float, exposed: float) -> float:
        return math.log((chosen + ROOM_PRIOR) / (exposed + ROOM_PRIOR))

    def shrunk(chosen: float, exposed: float, base: float, prior: float) -> float:
        return math.log((chosen + prior * math.exp(base)) / (exposed + prior)) - base

    prior = room.price_prior(float(v.tier[row]), bool(v.has_tier[row]))
    budget = None
    if prior is not None:
        budget = (float(v.price_lp[row]) + BUDGET_PRIOR * prior) / (
            float(v.price_w[row]) + BUDGET_PRIOR)
    buckets = [b for b, member in enumerate(v.segments[row].tolist()) if member]
    engaged = int(v.engaged_item[row])
    engaged_fade = math.exp(-(now - int(v.engaged_ts[row])) / horizon) if engaged else 0.0
    recent = list(zip(v.recent_item[row].tolist(), v.recent_ts[row].tolist(),
                      v.recent_kind[row].tolist(), strict=True))
    warm = mf.user_updates[row] > 0
    peers: dict[int, list[float]] = {}  # category slot -> log prices of its items on show
    for item in sc.rows.tolist():
        peers.setdefault(int(items.category[item]), []).append(
            math.log1p(float(items.price[item])))
    attrs = []  # per showcase item: its attrs standardised over the items that have each
    for column in zip(*sc.attrs.tolist(), strict=True):
        have = [value for value in column if not math.isnan(value)]
        mean = statistics.fmean(have) if have else 0.0
        spread = statistics.pstdev(have, mean) if have else 0.0
        attrs.append([(value - mean) / spread if spread > SPREAD and not math.isnan(value)
                      else 0.0 for value in column])
    out = []
    for j, item in enumerate(sc.rows.tolist()):
        slot = int(items.category[item])
        base = ratio(float(room.cat_chosen[slot]), float(room.cat_exposed[slot]))
        affinity = shrunk(float(v.cat_chosen[row, slot]), float(v.cat_exposed[row, slot]), base,
                          VIEWER_PRIOR)
        segment = sum(
            shrunk(float(room.seg_chosen[b, slot]), float(room.seg_exposed[b, slot]), base,
                   ROOM_PRIOR) for b in buckets
        )
        funnel = [
            sum(math.exp(-(now - ts) / horizon) for key, ts, kind in recent
                if key == item + 1 and kind == stage)
            for stage in (1, 2, 3)
        ]
        on_item = engaged_fade if engaged == item + 1 else 0.0
        on_category = engaged_fade if engaged and int(items.category[engaged - 1]) == slot else 0.0
        vectors = 0.0
        if warm and mf.item_updates[item] > 0:
            vectors = float(np.dot(mf.users[row].astype(np.float64),
                                   mf.items[item].astype(np.float64)))
            vectors /= math.sqrt(max(mf.n_factors, 1))
        momentum = 0.0
        if item < len(scene.window):
            counts = scene.window[item]
            momentum = math.log1p(float(counts[CLICKS]) + float(counts[CARTS])
                                  + float(counts[PURCHASES]))
        fresh = math.exp(-(scene.now - int(items.shown_since[item])) / (horizon * 1000.0))
        log_price = math.log1p(float(items.price[item]))
        appeal = ratio(float(items.chosen[item]), float(items.exposed[item]))
        over = max(log_price - budget, 0.0) if budget is not None else 0.0
        under = max(budget - log_price, 0.0) if budget is not None else 0.0
        segment_item = sum(
            shrunk(float(items.seg_chosen[item, b]), float(items.seg_exposed[item, b]), appeal,
                   ROOM_PRIOR) for b in buckets
        )
        out.append([affinity, segment, *funnel, on_item, on_category, vectors, segment_item,
                    1.0, 1.0 if j == sc.spotlight else 0.0, appeal, base, momentum, fresh,
                    log_price, over, under, math.log1p(int(sc.place[j])),
                    log_price - statistics.fmean(peers[slot]),
                    *(column[j] for column in attrs)])
    return out
