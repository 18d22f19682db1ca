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
from typing import Any, Protocol

import numpy as np

BLOCK_ROWS = 8192
_SAFE_EXP = 80.0  # |logit| bound under which exp cannot overflow float32 (max ~88.7)


@dataclass(slots=True)
class Ranked:
    """Top-``k`` per viewer: item indices best first, and the values behind them."""

    top: np.ndarray  # (V, k) int64 indices into the showcase
    score: np.ndarray  # (V, k) float32
    attention: np.ndarray  # (V, k) float32
    propensity: np.ndarray  # (V, k) float32


LogitFn = Callable[[int, int], np.ndarray]


class Rows(Protocol):
    """What ``rank`` needs of its queries: a shape and row blocks by slice."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, block: slice, /) -> Any: ...


class GatheredRows:
    """Rows ``rows`` of ``matrix`` as float32, gathered block by block when ``rank`` reads
    them (in cache, and without a V×d copy of the whole room); rows where ``zero`` is true
    read as zeros (cold viewers attend uniformly).

    >>> m = np.arange(6.0).reshape(3, 2)
    >>> GatheredRows(m, np.array([2, 0]), np.array([False, True]))[0:2].tolist()
    [[4.0, 5.0], [0.0, 0.0]]
    """

    def __init__(self, matrix: np.ndarray, rows: np.ndarray, zero: np.ndarray | None = None
                 ) -> None:
        self.matrix, self.rows, self.zero = matrix, rows, zero
        self.shape = (len(rows), matrix.shape[1])

    def __getitem__(self, block: slice) -> np.ndarray:
        # take(axis=0): 2× faster than fancy indexing for these 32-float rows
        out = self.matrix.take(self.rows[block], axis=0).astype(np.float32)
        if self.zero is not None:
            out[self.zero[block]] = 0.0
        return out


def rank(
    queries: Rows,
    keys: np.ndarray,
    inverse_odds: LogitFn,
    k: int,
    override: np.ndarray | None = None,
    override_rows: np.ndarray | None = None,
    uniform_from: int | None = None,
) -> Ranked:
    """Rank ``keys`` (N×d) for every row of ``queries`` (V×d: an array or ``GatheredRows``).

    ``inverse_odds(start, stop)`` returns e^(−z) of the propensity logits z of viewers
    ``start:stop`` (block×N): ``models.odds`` computes that without an ``exp`` per pair, and
    ``from_logits`` adapts a function that gives the logits themselves.
    Rows flagged in ``override_rows`` are ranked by the fixed ``override`` scores (an
    experiment's heuristic arm) instead, still reporting attention and propensity.
    Ties go to the lower item index, so callers fix the item order (``item_id``).
    Rows from ``uniform_from`` on have zero queries (viewers with no history): their
    attention is uniform, 1/N, so they skip the matrix product, the ``exp`` and the row sums
    (most of a room's viewers, often) and are never read from ``queries``. Their results are
    the same, bit for bit, as with zero queries.
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
    # exp overflows float32 above ~88, hence softmax's usual shift by the row maximum (two
    # passes over V×N). By Cauchy-Schwarz no logit exceeds |q|·max|k|, so rows whose bound
    # is small skip the shift (attention is the same up to rounding).
    key_norm = float(np.sqrt((keys_t * keys_t).sum(axis=0)).max(initial=0.0))
    ones = np.ones(n_items, dtype=np.float32)
    split = n_viewers if uniform_from is None else min(max(uniform_from, 0), n_viewers)
    uniform = np.float32(1.0) / np.float32(n_items)  # exactly 1 / (ones @ ones), as below
    for start, stop in _blocks(split, n_viewers):
        block = slice(start, stop)
        att: np.ndarray | None = None
        if start < split:
            query = np.asarray(queries[block], dtype=np.float32)
            # Unnormalised attention: dividing each row by its sum does not change the row's
            # order, so only the k picked values are normalised (one pass over V×N saved).
            att = query @ keys_t
            norms = np.sqrt(np.einsum("ij,ij->i", query, query))
            bound = float(norms.max(initial=0.0)) * key_norm
            if bound > _SAFE_EXP:
                att -= att.max(axis=1, keepdims=True)
            np.exp(att, out=att)
            inv_sum = 1.0 / (att @ ones)  # row sums as a matrix-vector product: 4× faster
        # 1 + e^(-z), the reciprocal of the propensity: dividing by it saves a pass over V×N;
        # only the picked values are inverted. A fresh float32 array is reused in place; a
        # view of the caller's array is copied first.
        inv_prop = _own_float32(inverse_odds(start, stop))
        inv_prop += 1.0
        # a uniform row's unnormalised attention is exp(0) = 1 for every item
        score = np.divide(att, inv_prop) if att is not None else np.reciprocal(inv_prop)
        flagged = None
        if override is not None and override_rows is not None:
            flagged = override_rows[block]
            if flagged.any():
                score[flagged] = override
            else:
                flagged = None
        top = _top_k(score, k)
        out.top[block] = top
        picked = top + np.arange(0, top.shape[0] * n_items, n_items)[:, None]
        if att is not None:
            out.attention[block] = att.reshape(-1).take(picked) * inv_sum[:, None]
        else:
            out.attention[block] = uniform
        out.propensity[block] = 1.0 / inv_prop.reshape(-1).take(picked)
        model_score = out.attention[block] * out.propensity[block]
        if flagged is None or override is None:
            out.score[block] = model_score
        else:
            out.score[block] = np.where(flagged[:, None], override[top], model_score)
    return out


def _blocks(split: int, n_rows: int) -> list[tuple[int, int]]:
    """Row blocks of up to ``BLOCK_ROWS``, none straddling ``split``."""
    return [
        (start, min(start + BLOCK_ROWS, end))
        for begin, end in ((0, split), (split, n_rows))
        for start in range(begin, end, BLOCK_ROWS)
    ]


def from_logits(logits: LogitFn) -> LogitFn:
    """``rank``'s ``inverse_odds`` from a function that gives the logits: float32 e^(−z).

    >>> odds = from_logits(lambda start, stop: np.zeros((stop - start, 2), np.float32))
    >>> odds(0, 1).tolist()
    [[1.0, 1.0]]
    """

    def inverse_odds(start: int, stop: int) -> np.ndarray:
        odds = np.array(logits(start, stop), dtype=np.float32)  # a copy: changed in place
        np.negative(odds, out=odds)
        np.exp(odds, out=odds)
        return odds

    return inverse_odds


def _own_float32(values: np.ndarray) -> np.ndarray:
    fresh = values.dtype == np.float32 and values.base is None and values.flags.writeable
    return values if fresh else np.array(values, dtype=np.float32)


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` largest values, best first, ties to the lower index;
    ``score`` is overwritten (picked values become ``-inf``)."""
    n_rows, n_cols = score.shape
    flat = score.reshape(-1)
    base = np.arange(0, n_rows * n_cols, n_cols)
    top = np.empty((n_rows, k), dtype=np.int64)
    for r in range(k):
        best = score.argmax(axis=1)
        top[:, r] = best
        if r + 1 < k:
            flat[base + best] = -np.inf
    return top


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
