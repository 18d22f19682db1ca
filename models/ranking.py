"""Attention × propensity ranking of a showcase for many viewers at once.

For viewer ``v`` and showcase item ``j``:
``attention[v, j] = softmax_j(q_v · k_j / √d)`` and ``propensity[v, j] = sigmoid(logit[v, j])``;
the score is their product: how likely the viewer looks at the item times how likely they buy
it. Rows are processed in blocks so intermediates stay in cache, in float32 (``exp`` is 4×
faster than in float64), and the top ``k`` come from ``k`` passes of ``argmax`` (faster than
``argpartition`` for small ``k``). ``rank_reference`` is the readable twin used as the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = 8192


@dataclass(slots=True)
class Ranked:
    """Top-``k`` per viewer: item indices best first, and the values behind them."""

    top: np.ndarray  # (V, k) int64 indices into the showcase
    score: np.ndarray  # (V, k) float32
    attention: np.ndarray  # (V, k) float32
    propensity: np.ndarray  # (V, k) float32


LogitFn = Callable[[int, int], np.ndarray]


def rank(
    queries: np.ndarray,
    keys: np.ndarray,
    logits: LogitFn,
    k: int,
    override: np.ndarray | None = None,
    override_rows: np.ndarray | None = None,
) -> Ranked:
    """Rank ``keys`` (N×d) for every row of ``queries`` (V×d).

    ``logits(start, stop)`` returns the propensity logits of viewers ``start:stop`` (block×N).
    Rows flagged in ``override_rows`` are ranked by the fixed ``override`` scores (an
    experiment's heuristic arm) instead, still reporting attention and propensity.
    Ties go to the lower item index, so callers fix the item order (``item_id``).
    """
    n_viewers, dim = queries.shape
    n_items = keys.shape[0]
    k = min(k, n_items)
    out = Ranked(
        np.zeros((n_viewers, k), dtype=np.int64),
        np.zeros((n_viewers, k), dtype=np.float32),
        np.zeros((n_viewers, k), dtype=np.float32),
        np.zeros((n_viewers, k), dtype=np.float32),
    )
    if n_viewers == 0 or k == 0:
        return out
    keys_t = np.ascontiguousarray((keys / math.sqrt(max(dim, 1))).T, dtype=np.float32)
    for start in range(0, n_viewers, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n_viewers)
        # Unnormalised attention: dividing each row by its sum does not change the row's
        # order, so only the k picked values are normalised (one pass over V×N saved).
        att = np.asarray(queries[start:stop], dtype=np.float32) @ keys_t
        att -= att.max(axis=1, keepdims=True)
        np.exp(att, out=att)
        inv_sum = 1.0 / att.sum(axis=1)
        # 1 + e^(-z), the reciprocal of the propensity: dividing by it saves a pass over V×N;
        # only the picked values are inverted.
        inv_prop = np.array(logits(start, stop), dtype=np.float32)  # a copy: changed in place
        np.negative(inv_prop, out=inv_prop)
        np.exp(inv_prop, out=inv_prop)
        inv_prop += 1.0
        score = att / inv_prop
        flagged = None
        if override is not None and override_rows is not None:
            flagged = override_rows[start:stop]
            if flagged.any():
                score[flagged] = override
            else:
                flagged = None
        _top_k(score, att, inv_prop, k, out, start)
        block = slice(start, stop)
        np.reciprocal(out.propensity[block], out=out.propensity[block])
        out.attention[block] *= inv_sum[:, None]
        model_score = out.attention[block] * out.propensity[block]
        if flagged is None:
            out.score[block] = model_score
        else:
            out.score[block] = np.where(flagged[:, None], out.score[block], model_score)
    return out


def _top_k(
    score: np.ndarray, att: np.ndarray, prop: np.ndarray, k: int, out: Ranked, start: int
) -> None:
    rows = np.arange(score.shape[0])
    stop = start + score.shape[0]
    for r in range(k):
        best = score.argmax(axis=1)
        out.top[start:stop, r] = best
        out.score[start:stop, r] = score[rows, best]
        out.attention[start:stop, r] = att[rows, best]
        out.propensity[start:stop, r] = prop[rows, best]
        score[rows, best] = -np.inf


def rank_reference(
    query: list[float],
    keys: list[list[float]],
    logits: list[float],
    k: int,
    override: list[float] | None = None,
) -> list[tuple[int, float, float, float]]:
    """One viewer, plain Python: ``[(item, score, attention, propensity)]`` best first."""
    dim = len(query)
    raw = [
        sum(q * x for q, x in zip(query, key, strict=True)) / math.sqrt(max(dim, 1)) for key in keys
    ]
    top = max(raw)
    weights = [math.exp(a - top) for a in raw]
    total = sum(weights)
    attention = [w / total for w in weights]
    propensity = [1.0 / (1.0 + math.exp(-z)) for z in logits]
    scores = (
        override
        if override is not None
        else [a * p for a, p in zip(attention, propensity, strict=True)]
    )
    order = sorted(range(len(keys)), key=lambda j: (-scores[j], j))[:k]
    return [(j, scores[j], attention[j], propensity[j]) for j in order]
