"""The choice model's logits for a whole room at once, without building the feature table.

The feature table of a room would be viewers × items × features (``features_row`` builds one
viewer's slice, ``features_one`` is its plain-Python twin) dotted with the weights. Most of
the table has structure that makes building it wasteful:

* the taste features that are *viewer row × item column* products (category and segment
  affinities gathered by the item's category slot, the segment's item ratio, the learned
  vectors) are one matrix product ``q Kᵀ``: the query is the viewer's affinities, segment
  memberships and vector, each scaled by its weight; the keys are the item's category one-hot,
  its segment ratios and its vector. That is the seed's attention, with a learned query;
* item-level short-term intent (clicked, carted, bought, engaged with) touches a few
  (item, viewer) cells: each viewer's recent items, looked up in the showcase, are added
  there; the category on stage at the last engagement joins the query's category part;
* the power logit is one per-item vector, plus ``a·(p − b) + c·|p − b|`` for the price
  against the budget (``max(0, g)`` and ``max(0, −g)`` folded into a slope and an absolute
  value), over viewers whose budget is known.

The logits come items down and viewers across (N × V), the layout the top ``k`` is taken in
(``models.ranking.TopK``). ``tests/models/test_choice_scoring.py`` checks both against
``features_row`` · weights.
"""

from __future__ import annotations

import math

import numpy as np

from models.choice_features import (
    FEATURES,
    FUNNEL_FEATURES,
    POWER,
    VIEWER_PRIOR,
    Scene,
    item_columns,
    log_budgets,
    room_rates,
    segment_item_rates,
    segment_rates,
)

_W = {name: n for n, name in enumerate(FEATURES)}
_FLOAT16 = np.arange(2**16, dtype=np.uint16).view(np.float16).astype(np.float32)  # by bits


def logits(scene: Scene, rows: np.ndarray, weights: np.ndarray, temperature: float = 1.0,
           negated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N, V) float32 taste logits (divided by ``temperature``) and power logits of viewers
    ``rows`` over the showcase: ``features_row(scene, row) @ weights`` per viewer, split in two
    and transposed. ``negated``: the power logits' negatives, made with negated weights (the
    same bits up to the sign of a zero: rounding is symmetric), for ``e^(−power)``."""
    w = {name: float(weights[n]) for name, n in _W.items()}
    taste = _taste(scene, rows, w)
    if temperature != 1.0:
        taste *= np.float32(1.0 / temperature)
    return taste, _power(scene, rows, {n: -w[n] for n in POWER} if negated else w)


def _taste(scene: Scene, rows: np.ndarray, w: dict[str, float]) -> np.ndarray:
    sc, v, items, mf = scene.showcase, scene.viewers, scene.items, scene.mf
    n_items, f32 = len(sc), np.float32
    slots = items.category[sc.rows]
    base = room_rates(scene.room)
    member = v.segments.take(rows, axis=0).astype(f32)
    # float16 arithmetic is slow, and so is numpy's float16 to float32 cast: a table of all
    # 65,536 float16 values, indexed by their bits, converts exactly in one gather.
    affinity = _FLOAT16.take(v.cat_chosen.view(np.uint16).take(rows, axis=0))
    exposed = v.cat_exposed.take(rows, axis=0)  # fresh arrays: the steps below are in place
    affinity += f32(VIEWER_PRIOR) * np.exp(base).astype(f32)
    exposed += f32(VIEWER_PRIOR)
    affinity /= exposed
    np.log(affinity, out=affinity)
    affinity -= base.astype(f32)
    by_category = w["category_affinity"] * affinity
    if w["segment_affinity"]:
        by_category += (w["segment_affinity"] * member) @ segment_rates(scene.room).astype(f32)
    _engaged_category(scene, rows, w, by_category)
    one_hot = np.zeros((by_category.shape[1], n_items), dtype=f32)
    one_hot[slots, np.arange(n_items)] = 1.0
    parts_right = [one_hot]
    if w["segment_item"]:
        parts_right.append(segment_item_rates(scene).T.astype(f32))
    warm = mf.user_updates[rows] > 0
    with_vectors = bool(w["vectors"]) and bool(warm.any())
    if with_vectors:
        keys = mf.items[sc.rows].astype(f32)
        keys[mf.item_updates[sc.rows] == 0] = 0.0
        parts_right.append(np.ascontiguousarray(keys.T))
    right = np.vstack(parts_right)
    # The query, written in place into one (V × inner) matrix: categories, then segments,
    # then vectors, as the keys are stacked.
    left = np.empty((len(rows), len(right)), dtype=f32)
    n_cat, n_seg = by_category.shape[1], member.shape[1]
    left[:, :n_cat] = by_category
    if w["segment_item"]:
        np.multiply(member, f32(w["segment_item"]), out=left[:, n_cat : n_cat + n_seg])
    if with_vectors:
        query = left[:, len(right) - mf.n_factors :]
        query[:] = 0.0  # cold viewers' stay zero
        hot = np.flatnonzero(warm)
        query[hot] = mf.users.take(rows[hot], axis=0).astype(f32)
        query *= f32(w["vectors"] / math.sqrt(max(mf.n_factors, 1)))
    taste = right.T @ left.T  # N × V: BLAS reads the views
    _intent(scene, rows, w, taste)
    return taste


def _engaged_category(scene: Scene, rows: np.ndarray, w: dict[str, float],
                      by_category: np.ndarray) -> None:
    """The category on stage at the viewer's last engagement, fading: a category-level term,
    so it joins the query's category part before the product."""
    v, items = scene.viewers, scene.items
    engaged = v.engaged_item.take(rows)
    active = np.flatnonzero(engaged)
    if active.size and w["engaged_category"]:
        now, horizon = scene.now / 1000.0, max(scene.horizon_ms, 1) / 1000.0  # seconds
        fade = np.exp(-(now - v.engaged_ts[rows[active]]) / horizon)
        slot = items.category[engaged[active].astype(np.int64) - 1]
        by_category[active, slot] += (w["engaged_category"] * fade).astype(np.float32)


def _intent(scene: Scene, rows: np.ndarray, w: dict[str, float], taste: np.ndarray) -> None:
    """Add item-level short-term intent (clicked, carted, bought, engaged with) to the few
    (item, viewer) cells it concerns: each viewer's recent items, looked up in the showcase."""
    sc, v = scene.showcase, scene.viewers
    now, horizon = scene.now / 1000.0, max(scene.horizon_ms, 1) / 1000.0  # ts in seconds
    position = np.full(max(int(sc.rows.max(initial=0)) + 2, 1), -1, dtype=np.int64)
    position[sc.rows + 1] = np.arange(len(sc))  # item row + 1 -> showcase index, or -1

    def add(keys: np.ndarray, viewers: np.ndarray, values: np.ndarray) -> None:
        known = keys < len(position)
        where = np.where(known, position[np.where(known, keys, 0)], -1)
        hit = (keys > 0) & (where >= 0)
        np.add.at(taste, (where[hit], viewers[hit]), values[hit].astype(np.float32))

    recent = v.recent_item.take(rows, axis=0)
    cells = np.flatnonzero(recent)  # (viewer, slot) cells holding an item, viewer by viewer
    if cells.size:
        funnel = np.array([0.0, *(w[name] for name in FUNNEL_FEATURES)])
        width = recent.shape[1]
        kinds = v.recent_kind.take(rows, axis=0).reshape(-1)[cells].astype(np.int64)
        ts = v.recent_ts.take(rows, axis=0).reshape(-1)[cells]
        coef = funnel[kinds] * np.exp(-(now - ts) / horizon)
        add(recent.reshape(-1)[cells].astype(np.int64), cells // width, coef)
    engaged = v.engaged_item.take(rows).astype(np.int64)
    active = np.flatnonzero(engaged)
    if active.size and w["engaged_item"]:
        fade = np.exp(-(now - v.engaged_ts[rows[active]]) / horizon)
        add(engaged[active], active, w["engaged_item"] * fade)


def _power(scene: Scene, rows: np.ndarray, w: dict[str, float]) -> np.ndarray:
    item_weights = np.array([w[name] for name in POWER[1:7]])
    per_item = (item_columns(scene) @ item_weights + w["bias"]).astype(np.float32)[:, None]
    over, under = w["over_budget"], w["under_budget"]
    budget, known = log_budgets(scene, rows)
    if not (over or under) or not known.any():
        return np.repeat(per_item, len(rows), axis=1)
    log_price = np.log1p(scene.items.price[scene.showcase.rows].astype(np.float32))
    # over·max(0, g) + under·max(0, −g) = ((over − under)/2)·g + ((over + under)/2)·|g|
    gap = np.subtract.outer(log_price, budget.astype(np.float32))
    power = np.abs(gap)
    power *= np.float32((over + under) / 2)
    gap *= np.float32((over - under) / 2)
    power += gap
    if not known.all():
        power[:, ~known] = 0.0  # no evidence of purchasing power yet: no price term
    power += per_item
    return power
