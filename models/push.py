"""From a room's state to the pushes of one trigger.

Every viewer to push gets the showcase ranked by the room's choice model
(``models.learners.listwise``): ``attention × propensity``, from the one feature table
(``models.choice_features``), in blocks of viewers, warm viewers first (``warm_first``) and
put back in their order at the end. Viewers in the ``control`` arm get the
heuristic instead: spotlight, then momentum. ``build_push_reference`` is the readable twin,
one viewer at a time in plain Python (``tests/models/test_push.py``).
"""

from __future__ import annotations

import math
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
from features.state.choices import RoomChoices
from features.state.viewers import ViewerTable
from features.state.windows import CARTS, CLICKS, PURCHASES
from models.choice_columns import ColumnCache
from models.choice_features import TASTE, Scene, features_one, features_row
from models.choice_scoring import logits, prepare
from models.learners.listwise import listwise_ranker
from models.learners.protocols import ChoiceLearner, VectorLearner
from models.params import RoomParams
from models.ranking import (
    BLOCK_ROWS,
    PACKED_ITEMS,
    Ranked,
    TopK,
    _top_k,
    order_key,
    top_k_of_keys,
    top_of_one,
)


@dataclass(slots=True)
class PushContext:
    viewers: ViewerTable
    items: ItemTable
    room: RoomChoices
    window: np.ndarray  # (item rows × channels) at the trigger time
    showcase: Showcase | None
    mf: VectorLearner
    model: ChoiceLearner
    params: RoomParams
    now: int = 0
    temperature: float = 1.0  # an arm's attention temperature: softmax(taste / T)
    columns: ColumnCache | None = None  # the room's per-showcase columns (choice_columns)

    def scene(self) -> Scene:
        assert self.showcase is not None
        return Scene(self.viewers, self.items, self.room, self.showcase, self.window, self.mf,
                     self.now, self.params.conversion_window_ms, self.columns)


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


def _table(ctx: PushContext, rows: np.ndarray) -> np.ndarray:
    scene = ctx.scene()
    return np.stack([features_row(scene, row) for row in rows.tolist()])


def score_block(ctx: PushContext, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """(V, N) attention, propensity and score of viewers ``rows`` over the showcase, by the
    path ``build_push`` takes."""
    model = listwise_ranker(ctx.model)
    if model is None:
        attention, propensity = ctx.model.parts(_table(ctx, rows), ctx.temperature)
        return attention, propensity, attention * propensity
    taste, power = logits(ctx.scene(), rows, model.weights, ctx.temperature)
    weight, inverse = _exp_parts(taste, power)
    attention = weight / weight.sum(axis=0)
    propensity = 1.0 / inverse
    return attention.T, propensity.T, (attention * propensity).T


def _exp_parts(taste: np.ndarray, power: np.ndarray,
               negated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """In place (N × V): e^(taste − max) (unnormalised attention) and 1 + e^(−power) (the
    reciprocal of the propensity; ``negated``: ``power`` holds −power already). The score's
    order needs neither normalised: the attention's sum and the division are paid only for
    the ``k`` items picked."""
    taste -= taste.max(axis=0)
    np.exp(taste, out=taste)
    if not negated:
        np.negative(power, out=power)
    np.exp(power, out=power)
    power += 1.0
    return taste, power


def warm_first(mf: VectorLearner, rows: np.ndarray) -> np.ndarray:
    """Places in ``rows``: viewers with a learned vector first, each part in its order.

    >>> from types import SimpleNamespace
    >>> mf = SimpleNamespace(user_updates=np.array([0, 4, 0, 1], np.int32))
    >>> warm_first(mf, np.array([3, 2, 1, 0])).tolist()
    [0, 2, 1, 3]
    """
    warm = mf.user_updates.take(rows) > 0
    return np.concatenate([np.flatnonzero(warm), np.flatnonzero(~warm)])


def _is_identity(order: np.ndarray) -> bool:
    return bool(order.size == 0 or (order[0] == 0 and (np.diff(order) == 1).all()))


def build_push(
    ctx: PushContext, rows: np.ndarray, arms: np.ndarray, event: Event, room_id: str
) -> PushBatch:
    showcase = ctx.showcase
    assert showcase is not None
    names = ctx.params.arms.names
    n_items, n_viewers = len(showcase), len(rows)
    k = min(ctx.params.top_k, n_items)
    heat = momentum(ctx, showcase)
    is_control = np.array([ctx.params.arms.is_control(n) for n in range(len(names))], bool)
    flagged_all = is_control[arms] if is_control.any() else np.zeros(n_viewers, bool)
    override = control_scores(showcase, heat)
    override_top = _top_k(override[None, :].copy(), k)[0]
    ranked = Ranked(  # in ``order``, then put back in the order of ``rows``
        np.zeros((n_viewers, k), np.int64), np.zeros((n_viewers, k), np.float32),
        np.zeros((n_viewers, k), np.float32), np.zeros((n_viewers, k), np.float32),
    )
    top_k = TopK(n_items, k, min(BLOCK_ROWS, max(n_viewers, 1)))
    packed = n_items < PACKED_ITEMS
    listwise = listwise_ranker(ctx.model) is not None
    order = warm_first(ctx.mf, rows)  # the vectors' product then runs over a block's prefix
    scoring = (prepare(ctx.scene(), ctx.model.weights, ctx.temperature, negated=True)
               if listwise else None)
    for start in range(0, n_viewers, BLOCK_ROWS):
        block = slice(start, min(start + BLOCK_ROWS, n_viewers))
        at = order[block]  # the block's places in ``rows``
        width = len(at)
        if scoring is not None:  # items down, viewers across: the layout TopK reads
            taste, minus_power = scoring.logits(rows[at])
            weight, inverse = _exp_parts(taste, minus_power, negated=True)
            score = weight / inverse  # the order of attention × propensity, unnormalised
            total = weight.sum(axis=0)
        else:
            attention, propensity = ctx.model.parts(_table(ctx, rows[at]), ctx.temperature)
            weight = np.ascontiguousarray(attention.T, dtype=np.float32)
            with np.errstate(divide="ignore"):  # a propensity of 0 (a saturated sigmoid)
                inverse = np.ascontiguousarray(1.0 / propensity.T, dtype=np.float32)
            score = weight / inverse
            total = np.ones(width, np.float32)
        # scores lie in [0, 1]: a finite sum proves no NaN, and order_key and the top k skip
        # their NaN passes (``score`` is not read again: its keys are made in place)
        finite = bool(np.isfinite(score.sum()))
        key = order_key(score, finite)
        top = top_k_of_keys(key, k) if finite and packed else top_k(key, finite)
        flagged = flagged_all[at]
        if flagged.any():
            top[flagged] = override_top
        picked = top * width + np.arange(width)[:, None]  # flat indices into N × width
        attention_k = weight.reshape(-1).take(picked) / total[:, None]
        propensity_k = 1.0 / inverse.reshape(-1).take(picked)
        ranked.top[block] = top
        ranked.attention[block] = attention_k
        ranked.propensity[block] = propensity_k
        np.multiply(attention_k, propensity_k, out=ranked.score[block])
        if flagged.any():
            ranked.score[block][flagged] = override[top[flagged]]
    if not _is_identity(order):
        back = np.empty_like(order)
        back[order] = np.arange(n_viewers)
        ranked = Ranked(*(part.take(back, axis=0) for part in
                          (ranked.top, ranked.score, ranked.attention, ranked.propensity)))
    return PushBatch(
        room_id=room_id,
        trigger=event.type,
        trigger_id=event.event_id,
        ts=event.ts,
        user_ids=ctx.viewers.rows.ids[rows].tolist(),
        arms=np.array(names, dtype=object)[arms].tolist(),
        item_ids=showcase.item_ids,
        top=ranked.top,
        score=ranked.score,
        attention=ranked.attention,
        propensity=ranked.propensity,
        why=why_codes(showcase, heat, ranked, *_evidence(ctx, rows)),
    )


def build_push_one(
    ctx: PushContext, row: int, arm: int, event: Event, room_id: str
) -> PushBatch:
    """``build_push`` for one viewer (a viewer entering a room with a showcase): the feature
    table of one viewer (``features_row``) and the model's ``parts``, a few dozen small
    operations where the block path pays a fixed cost for its matrices. ``build_push`` is its
    oracle (``tests/models/test_push.py``)."""
    showcase = ctx.showcase
    assert showcase is not None
    params = ctx.params
    x, listwise = features_row(ctx.scene(), row), listwise_ranker(ctx.model)
    if listwise is not None and ctx.temperature == 1.0:
        attention, propensity = listwise.parts_of_one(x)  # ``parts``, with fewer operations
    else:
        attention, propensity = ctx.model.parts(x, ctx.temperature)
    attention, propensity = attention.astype(np.float32), propensity.astype(np.float32)
    score = attention * propensity
    heat = momentum(ctx, showcase)
    if params.arms.is_control(arm):
        score = control_scores(showcase, heat)
    k = min(params.top_k, len(showcase))
    top = top_of_one(order_key(score.copy()), k)
    ranked = Ranked(top, score[top], attention[top], propensity[top])
    v = ctx.viewers
    warm = bool(v.cat_chosen[row].view(np.uint16).any())  # _evidence of one viewer
    why = why_one(showcase, heat, ranked, warm, bool(v.price_w[row] > 0))
    return _one_viewer(ctx, row, arm, event, room_id, ranked, np.array([why], np.int8))


def _evidence(ctx: PushContext, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each viewer has chosen anything here (taste) and acted on any price."""
    v = ctx.viewers
    return chosen_any(v.cat_chosen, rows), (v.price_w.take(rows) > 0).astype(np.float32)


def chosen_any(counts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether any of the float16 ``counts`` of each of ``rows`` is non-zero, on the bits
    (float16 arithmetic is emulated and slow), a row's 16 counts read as four 64-bit words:
    ``any`` along rows of 16 pays a cost per row. Twin: ``.view(np.uint16)...any(axis=1)``."""
    words = np.ascontiguousarray(counts).view(np.uint64).take(rows, axis=0)
    chosen = words[:, 0] != 0
    for n in range(1, words.shape[1]):
        chosen |= words[:, n] != 0
    return chosen


def build_push_reference(
    ctx: PushContext, row: int, arm: int, event: Event, room_id: str
) -> PushBatch:
    """``build_push`` for one viewer, item by item in plain Python: the readable twin."""
    showcase = ctx.showcase
    assert showcase is not None
    params = ctx.params
    w = ctx.model.weights.tolist()
    t = len(TASTE)
    taste, power = [], []
    for x in features_one(ctx.scene(), row):
        taste.append(sum(a * b for a, b in zip(x[:t], w[:t], strict=True)) / ctx.temperature)
        power.append(sum(a * b for a, b in zip(x[t:], w[t:], strict=True)))
    peak = max(taste)
    raw = [math.exp(a - peak) for a in taste]
    attention = [a / sum(raw) for a in raw]
    propensity = [1.0 / (1.0 + math.exp(-z)) for z in power]
    score = [a * p for a, p in zip(attention, propensity, strict=True)]
    heat = momentum(ctx, showcase)
    if params.arms.is_control(arm):
        score = control_scores(showcase, heat).tolist()
    key = order_key(np.array(score, dtype=np.float32)).tolist()
    k = min(params.top_k, len(showcase))
    top = sorted(range(len(showcase)), key=lambda j: (-key[j], j))[:k]
    ranked = Ranked(
        np.array([top], np.int64),
        np.array([[score[j] for j in top]], np.float32),
        np.array([[attention[j] for j in top]], np.float32),
        np.array([[propensity[j] for j in top]], np.float32),
    )
    why = why_codes(showcase, heat, ranked, *_evidence(ctx, np.array([row])))
    return _one_viewer(ctx, row, arm, event, room_id, ranked, why)


def _one_viewer(ctx: PushContext, row: int, arm: int, event: Event, room_id: str,
                ranked: Ranked, why: np.ndarray) -> PushBatch:
    showcase = ctx.showcase
    assert showcase is not None
    return PushBatch(
        room_id=room_id,
        trigger=event.type,
        trigger_id=event.event_id,
        ts=event.ts,
        user_ids=[ctx.viewers.rows.ids[row]],
        arms=[ctx.params.arms.names[arm]],
        item_ids=showcase.item_ids,
        top=ranked.top,
        score=ranked.score,
        attention=ranked.attention,
        propensity=ranked.propensity,
        why=why,
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


def why_one(showcase: Showcase, heat: np.ndarray, ranked: Ranked, warm: bool,
            budget_known: bool) -> int:
    """``why_codes`` of a one-viewer ``ranked``, on scalars (the one-viewer push): the same
    conditions, the last that holds winning, in float32 where ``why_codes`` compares arrays."""
    if ranked.top.shape[1] == 0:
        return WHY_POPULAR
    first = int(ranked.top[0, 0])
    peak = float(heat.max(initial=0.0))
    code = WHY_BUDGET if budget_known else WHY_POPULAR
    if peak > 0 and heat[first] >= peak:
        code = WHY_TRENDING
    if warm and ranked.attention[0, 0] * np.float32(len(showcase)) > 1.5:
        code = WHY_TASTE
    if first == showcase.spotlight:
        code = WHY_SPOTLIGHT
    return code


def choice_features(ctx: PushContext, row: int) -> np.ndarray:
    """(N, F) the features of viewer ``row`` over the showcase, as the model learns them."""
    return features_row(ctx.scene(), row)
