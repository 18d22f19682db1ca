"""The choice model's logits for a whole room at once, without building the feature table.

``features_block`` (the readable twin) builds a (viewers × items × features) table and takes
its dot product with the weights. Most of the table has structure that makes this wasteful:

* the taste features that are *viewer row × item column* products (category and segment
  affinities gathered by the item's category slot, the segment's item ratio, the learned
  vectors) are one matrix product ``q Kᵀ``: the query is the viewer's affinities, segment
  memberships and vector, each scaled by its weight; the keys are the item's category one-hot,
  its segment ratios and its vector. That is the seed's attention, with a learned query;
* short-term intent (clicked, carted, bought, engaged) is non-zero only for the few viewers
  who acted within the horizon: added to their rows only;
* the power logit is one per-item vector, plus ``a·(p − b) + c·|p − b|`` for the price
  against the budget (``max(0, g)`` and ``max(0, −g)`` folded into a slope and an absolute
  value), over viewers whose budget is known.

``tests/models/test_choice_scoring.py`` checks both logits against ``features_block`` · weights.
"""

from __future__ import annotations

import math

import numpy as np

from models.choice_features import (
    FEATURES,
    POWER,
    TASTE,
    VIEWER_PRIOR,
    Scene,
    item_columns,
    log_budgets,
    room_rates,
    segment_item_rates,
    segment_rates,
)

_T = len(TASTE)
_W = {name: n for n, name in enumerate(FEATURES)}
_FUNNEL = ("clicked", "carted", "bought")


def logits(scene: Scene, rows: np.ndarray, weights: np.ndarray,
           temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(V, N) float32 taste logits (divided by ``temperature``) and power logits of viewers
    ``rows`` over the showcase: ``features_block(scene, rows) @ weights``, split in two."""
    w = {name: float(weights[n]) for name, n in _W.items()}
    taste = _taste(scene, rows, w)
    if temperature != 1.0:
        taste *= np.float32(1.0 / temperature)
    return taste, _power(scene, rows, w)


def _taste(scene: Scene, rows: np.ndarray, w: dict[str, float]) -> np.ndarray:
    sc, v, items, mf = scene.showcase, scene.viewers, scene.items, scene.mf
    n_items, f32 = len(sc), np.float32
    slots = items.category[sc.rows]
    base = room_rates(scene.room)
    member = v.segments.take(rows, axis=0).astype(f32)
    chosen = v.cat_chosen.take(rows, axis=0)
    exposed = v.cat_exposed.take(rows, axis=0)
    affinity = np.log((chosen + f32(VIEWER_PRIOR) * np.exp(base).astype(f32))
                      / (exposed + f32(VIEWER_PRIOR))) - base.astype(f32)
    by_category = w["category_affinity"] * affinity
    if w["segment_affinity"]:
        by_category += (w["segment_affinity"] * member) @ segment_rates(scene.room).astype(f32)
    n_cat = by_category.shape[1]
    parts_left = [by_category.astype(f32)]
    one_hot = np.zeros((n_cat, n_items), dtype=f32)
    one_hot[slots, np.arange(n_items)] = 1.0
    parts_right = [one_hot]
    if w["segment_item"]:
        parts_left.append(w["segment_item"] * member)
        parts_right.append(segment_item_rates(scene).T.astype(f32))
    warm = mf.user_updates[rows] > 0
    if w["vectors"] and warm.any():
        query = mf.users.take(rows, axis=0).astype(f32)
        query[~warm] = 0.0
        keys = mf.items[sc.rows].astype(f32)
        keys[mf.item_updates[sc.rows] == 0] = 0.0
        parts_left.append(query * f32(w["vectors"] / math.sqrt(max(mf.n_factors, 1))))
        parts_right.append(np.ascontiguousarray(keys.T))
    taste = np.hstack(parts_left) @ np.vstack(parts_right)
    _intent(scene, rows, w, taste)
    return taste


def _intent(scene: Scene, rows: np.ndarray, w: dict[str, float], taste: np.ndarray) -> None:
    """Add short-term intent to the rows of the viewers who have any."""
    sc, v, items = scene.showcase, scene.viewers, scene.items
    horizon = max(scene.horizon_ms, 1)
    keys = sc.rows + 1
    recent = v.recent_item.take(rows, axis=0)
    active = np.flatnonzero(recent.any(axis=1))
    if active.size:
        funnel = np.array([0.0, *(w[name] for name in _FUNNEL)])
        kinds = v.recent_kind[rows[active]].astype(np.int64)
        coef = funnel[kinds] * np.exp(-(scene.now - v.recent_ts[rows[active]]) / horizon)
        add = np.zeros((active.size, len(sc)))
        for r in range(recent.shape[1]):
            add += (recent[active, r][:, None] == keys[None, :]) * coef[:, r][:, None]
        taste[active] += add.astype(np.float32)
    engaged = v.engaged_item.take(rows)
    active = np.flatnonzero(engaged)
    if active.size and (w["engaged_item"] or w["engaged_category"]):
        item = engaged[active].astype(np.int64)
        fade = np.exp(-(scene.now - v.engaged_ts[rows[active]]) / horizon)
        same_item = item[:, None] == keys[None, :]
        same_slot = items.category[item - 1][:, None] == items.category[sc.rows][None, :]
        add = (w["engaged_item"] * same_item + w["engaged_category"] * same_slot) * fade[:, None]
        taste[active] += add.astype(np.float32)


def _power(scene: Scene, rows: np.ndarray, w: dict[str, float]) -> np.ndarray:
    item_weights = np.array([w[name] for name in POWER[1:7]])
    per_item = (item_columns(scene) @ item_weights + w["bias"]).astype(np.float32)
    power = np.empty((len(rows), len(per_item)), dtype=np.float32)
    power[:] = per_item
    budget, known = log_budgets(scene, rows)
    known_rows = np.flatnonzero(known)
    over, under = w["over_budget"], w["under_budget"]
    if known_rows.size and (over or under):
        log_price = np.log1p(scene.items.price[scene.showcase.rows].astype(np.float32))
        gap = log_price[None, :] - budget[known_rows].astype(np.float32)[:, None]
        # over·max(0, g) + under·max(0, −g) = ((over − under)/2)·g + ((over + under)/2)·|g|
        term = np.float32((over - under) / 2) * gap
        term += np.float32((over + under) / 2) * np.abs(gap)
        power[known_rows] += term
    return power
