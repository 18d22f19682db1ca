"""From a room's state to the pushes of one trigger.

Gathers, for the viewers to push and the items on show, the attention inputs (learned
vectors; zero for rows with no history, so a cold viewer attends uniformly and ranks by
propensity, i.e. by spotlight and room momentum) and the propensity features, then ranks all
viewers at once. Viewers in the ``control`` arm get the heuristic: spotlight, then momentum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.contract.events import Event
from features.contract.messages import (
    WHY_BUDGET,
    WHY_POPULAR,
    WHY_SPOTLIGHT,
    WHY_TASTE,
    WHY_TRENDING,
    PushBatch,
)
from features.state.catalog import ItemTable, Showcase
from features.state.viewers import ViewerTable
from features.state.windows import CARTS, CLICKS, PURCHASES
from models.learners.protocols import VectorLearner
from models.params import RoomParams
from models.propensity import (
    BUDGET_KNOWN,
    LOG_AVG_SPEND,
    LOG_PRICE,
    TIER,
    PropensityModel,
    pair_row,
)
from models.ranking import GatheredRows, Ranked, rank


@dataclass(slots=True)
class PushContext:
    viewers: ViewerTable
    items: ItemTable
    window: np.ndarray  # (item rows × channels) at the trigger time
    showcase: Showcase | None
    mf: VectorLearner
    propensity: PropensityModel
    params: RoomParams


def momentum(ctx: PushContext, showcase: Showcase) -> np.ndarray:
    counts = ctx.window[showcase.rows]
    return counts[:, CLICKS] + 2.0 * counts[:, CARTS] + 3.0 * counts[:, PURCHASES]


def control_scores(showcase: Showcase, heat: np.ndarray) -> np.ndarray:
    """Spotlight first, then momentum in the window; ties by ``item_id``."""
    score = heat.astype(np.float32)
    score /= 1.0 + float(score.max(initial=0.0))
    if showcase.spotlight >= 0:
        score[showcase.spotlight] = 2.0
    return score


def build_push(
    ctx: PushContext, rows: np.ndarray, arms: np.ndarray, event: Event, room_id: str
) -> PushBatch:
    showcase = ctx.showcase
    assert showcase is not None
    viewers, mf = ctx.viewers, ctx.mf
    warm = mf.user_updates[rows] > 0
    known = (viewers.purchases[rows] > 0).astype(np.float32)
    order = ranking_order(warm, known > 0)  # results go back to ``rows`` order at the end
    by_warmth = rows[order]
    queries = GatheredRows(mf.users, by_warmth)
    keys = mf.items[showcase.rows].astype(np.float32)
    keys[mf.item_updates[showcase.rows] == 0] = 0.0
    item_x = ctx.items.features(showcase, ctx.window)
    item_category = ctx.items.category[showcase.rows]

    def inverse_odds(start: int, stop: int) -> np.ndarray:
        """Viewer features are gathered block by block, like the queries: in cache."""
        block = by_warmth[start:stop]
        viewer_x = viewers.features(block)
        return ctx.propensity.inverse_odds_fast(
            viewer_x,
            viewer_x[:, LOG_AVG_SPEND],  # the budget: log1p of the average order value
            viewer_x[:, BUDGET_KNOWN],
            viewers.category_share(block),
            item_x,
            item_category,
            transposed=True,  # items down, viewers across: rank's layout
        )

    heat = momentum(ctx, showcase)
    names = ctx.params.arms.names
    is_control = np.array([ctx.params.arms.is_control(n) for n in range(len(names))], bool)
    override_rows = is_control[arms[order]] if is_control.any() else None
    ranked = _in_order(rank(
        queries,
        keys,
        inverse_odds,
        ctx.params.top_k,
        control_scores(showcase, heat) if override_rows is not None else None,
        override_rows,
        uniform_from=int(np.count_nonzero(warm)),
    ), order)
    return PushBatch(
        room_id=room_id,
        trigger=event.type,
        trigger_id=event.event_id,
        ts=event.ts,
        user_ids=viewers.rows.ids[rows].tolist(),
        arms=np.array(names, dtype=object)[arms].tolist(),
        item_ids=showcase.item_ids,
        top=ranked.top,
        score=ranked.score,
        attention=ranked.attention,
        propensity=ranked.propensity,
        why=why_codes(showcase, heat, ranked, warm, known),
    )


def ranking_order(warm: np.ndarray, buyer: np.ndarray) -> np.ndarray:
    """The order ``build_push`` ranks viewers in: warm viewers first, then those with no
    history (zero query, uniform attention), whom ``rank`` spares the attention (its
    ``uniform_from``); within each, buyers last, so that a block's buyers sit side by side
    for the |price − budget| term (a slice, not a gather of columns).

    >>> ranking_order(np.array([False, True, True]), np.array([False, True, False])).tolist()
    [2, 1, 0]
    """
    return np.concatenate([np.flatnonzero(warm & ~buyer), np.flatnonzero(warm & buyer),
                           np.flatnonzero(~warm & ~buyer), np.flatnonzero(~warm & buyer)])


def _in_order(ranked: Ranked, order: np.ndarray) -> Ranked:
    """``ranked`` computed for ``rows[order]``, back in the order of ``rows`` (row gathers
    with ``take``: scattering short rows by fancy index was 10× slower)."""
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return Ranked(*(part.take(back, axis=0) for part in
                    (ranked.top, ranked.score, ranked.attention, ranked.propensity)))


def build_push_one(
    ctx: PushContext, row: int, arm: int, event: Event, room_id: str
) -> PushBatch:
    """``build_push`` for one viewer (a viewer entering a room with a showcase): the same
    scores on (N,) vectors in a few dozen small operations instead of the block path's
    ~150, which costs ~0.4 ms whatever the room size. ``build_push`` is its oracle
    (``tests/models/test_push.py``)."""
    showcase = ctx.showcase
    assert showcase is not None
    viewers, mf, params = ctx.viewers, ctx.mf, ctx.params
    items = showcase.rows
    # Attention (float64 here; float32 in the block path: equal to rounding).
    warm = bool(mf.user_updates[row] > 0)
    if warm:
        att = mf.items[items] @ mf.users[row]
        att[mf.item_updates[items] == 0] = 0.0
        att *= 1.0 / math.sqrt(max(params.dim, 1))
        att -= att.max()
        np.exp(att, out=att)
        att /= att.sum()
    else:
        att = np.full(len(items), 1.0 / len(items))
    # Propensity: the logit of every item for this viewer, term by term as logits_fast.
    wv, wi, wp, bias = ctx.propensity.weight_groups()
    w_gap, w_dist, w_tier, w_cat = (float(w) for w in wp)
    viewer_row = viewers.feature_row(row)
    purchases = float(viewers.purchases[row])
    known = 1.0 if purchases > 0 else 0.0
    log_budget = math.log1p(float(viewers.spend[row]) / max(purchases, 1.0))
    counts = viewers.categories[row]
    share = counts / max(float(counts.sum()), 1.0)
    item_x = ctx.items.features(showcase, ctx.window).astype(np.float64)
    log_price = item_x[:, LOG_PRICE]
    z = item_x @ wi
    z += bias + float(np.dot(wv, viewer_row))
    z += (w_gap * known + w_tier * viewer_row[TIER]) * log_price - w_gap * known * log_budget
    z += (w_dist * known) * np.abs(log_price - log_budget)
    if w_cat:
        z += w_cat * share[ctx.items.category[items]]
    prop = 1.0 / (1.0 + np.exp(-z))
    score = att * prop
    heat = momentum(ctx, showcase)
    names = params.arms.names
    if params.arms.is_control(arm):
        score = control_scores(showcase, heat).astype(np.float64)
    k = min(params.top_k, len(items))
    top = np.argsort(-score, kind="stable")[None, :k]  # ties to the lower item index
    ranked = Ranked(top, score[top].astype(np.float32), att[top].astype(np.float32),
                    prop[top].astype(np.float32))
    why = why_code(showcase, heat, int(top[0, 0]), float(ranked.attention[0, 0]), warm, known)
    return PushBatch(
        room_id=room_id,
        trigger=event.type,
        trigger_id=event.event_id,
        ts=event.ts,
        user_ids=[viewers.rows.ids[row]],
        arms=[names[arm]],
        item_ids=showcase.item_ids,
        top=ranked.top,
        score=ranked.score,
        attention=ranked.attention,
        propensity=ranked.propensity,
        why=np.array([why], dtype=np.int8),
    )


def why_codes(
    showcase: Showcase,
    heat: np.ndarray,
    ranked: Ranked,
    warm: np.ndarray,
    budget_known: np.ndarray,
) -> np.ndarray:
    """A short reason for each viewer's first item, chosen with array conditions: the first
    that holds of spotlight, taste, trending, budget; else popular."""
    n_viewers = ranked.top.shape[0]
    codes = np.full(n_viewers, WHY_POPULAR, dtype=np.int8)
    if ranked.top.shape[1] == 0:
        return codes
    first = ranked.top[:, 0]
    peak = float(heat.max(initial=0.0))
    codes[budget_known > 0] = WHY_BUDGET  # lowest priority first, overwritten below
    if peak > 0:
        codes[heat[first] >= peak] = WHY_TRENDING
    codes[warm & (ranked.attention[:, 0] * len(showcase) > 1.5)] = WHY_TASTE
    codes[first == showcase.spotlight] = WHY_SPOTLIGHT
    return codes


def why_code(showcase: Showcase, heat: np.ndarray, first: int, attention: float, warm: bool,
             budget_known: float) -> int:
    """``why_codes`` of one viewer in plain Python: ``first`` is their top item, ``attention``
    its attention (``tests/models/test_push.py`` checks the two agree)."""
    peak = float(heat.max(initial=0.0))
    why = WHY_BUDGET if budget_known > 0 else WHY_POPULAR
    if peak > 0 and heat[first] >= peak:
        why = WHY_TRENDING
    if warm and np.float32(attention) * np.float32(len(showcase)) > 1.5:  # as why_codes: float32
        why = WHY_TASTE
    if first == showcase.spotlight:
        why = WHY_SPOTLIGHT
    return why


def learning_example(ctx: PushContext, row: int, item: int) -> list[float]:
    """The propensity features of one (viewer, item) pair now, in ``FEATURES`` order and plain
    Python: the same values ``build_push`` scores as matrices."""
    return learning_examples(ctx, row, (item,))[0]


def learning_examples(ctx: PushContext, row: int, items: Sequence[int]) -> list[list[float]]:
    """``learning_example`` of one viewer with several items (the viewer's part once)."""
    showcase = ctx.showcase
    stage = (
        int(showcase.rows[showcase.spotlight])
        if showcase is not None and showcase.spotlight >= 0
        else -1
    )
    viewers = ctx.viewers
    viewer_row = viewers.feature_row(row)
    purchases = float(viewers.purchases[row])
    known = 1.0 if purchases > 0 else 0.0
    log_budget = math.log1p(float(viewers.spend[row]) / max(purchases, 1.0))
    shares = viewers.category_shares_of(row)
    out = []
    for item in items:
        item_row = ctx.items.feature_row(item, item == stage, ctx.window)
        share = shares[int(ctx.items.category[item])]
        pairs = pair_row(viewer_row, log_budget, known, share, item_row)
        out.append([*viewer_row, *item_row, *pairs])
    return out
