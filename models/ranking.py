"""Attention × propensity ranking of a showcase for many viewers at once.

For viewer ``v`` and showcase item ``j``:
``attention[v, j] = softmax_j(q_v · k_j / √d)`` and ``propensity[v, j] = sigmoid(logit[v, j])``;
the score is their product: how likely the viewer looks at the item times how likely they buy
it. Viewers are processed in blocks so intermediates stay in cache, in float32 (``exp`` is 4×
faster than in float64), each block transposed, items down and viewers across, so that the
top ``k`` come from ``k`` passes of ``max`` down the items, vectorised across viewers
(``TopK``; ``argmax`` along each viewer's short row, its readable twin, pays a fixed cost per
row). ``rank_reference`` is the readable twin of the whole, used as the oracle.

The order is decided on scores rounded to ``ORDER_BITS`` significant bits (``order_key``),
ties to the lower showcase index. Why: the last bits of a score depend on the CPU (numpy's
``exp`` and BLAS pick SIMD kernels per machine), so two items whose scores differ by a few
ulps (near-duplicate products) would swap between hosts; rounded, they tie, and the index
decides on every machine. What remains: a score within a few ulps of a rounding boundary can
still land on either side (about one such pair in 2^(23 − ORDER_BITS − 2)). The pushed
``score`` keeps full precision, so within one rounding step it need not decrease.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

BLOCK_ROWS = 8192
ORDER_BITS = 16  # significant bits of a score that the order sees: ~1.5e-5 relative steps
_DROPPED = 24 - ORDER_BITS  # of float32's 24 significant bits
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
    them (in cache, and without a V×d copy of the whole room).

    >>> m = np.arange(6.0).reshape(3, 2)
    >>> GatheredRows(m, np.array([2, 0]))[0:2].tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """

    def __init__(self, matrix: np.ndarray, rows: np.ndarray) -> None:
        self.matrix, self.rows = matrix, rows
        self.shape = (len(rows), matrix.shape[1])

    def __getitem__(self, block: slice) -> np.ndarray:
        # take(axis=0): 2× faster than fancy indexing for these 32-float rows
        return self.matrix.take(self.rows[block], axis=0).astype(np.float32)


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
    ``start:stop``, transposed: items down, viewers across (N×block), the layout every
    block is computed in (see ``TopK``). ``from_logits`` adapts a function that gives the
    logits themselves, viewers down.
    Rows flagged in ``override_rows`` are ranked by the fixed ``override`` scores (an
    experiment's heuristic arm) instead, still reporting attention and propensity.
    Ties go to the lower item index, so callers fix the item order (``item_id``).
    Rows from ``uniform_from`` on have zero queries (viewers with no history): their
    attention is uniform, 1/N, so they skip the matrix product, the ``exp`` and the sums
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
    keys_n = np.ascontiguousarray(keys / math.sqrt(max(dim, 1)), dtype=np.float32)
    # exp overflows float32 above ~88, hence softmax's usual shift by the maximum (two
    # passes over V×N). By Cauchy-Schwarz no logit exceeds |q|·max|k|, so blocks whose
    # bound is small skip the shift (attention is the same up to rounding).
    key_norm = float(np.sqrt(np.einsum("ij,ij->i", keys_n, keys_n)).max(initial=0.0))
    ones = np.ones(n_items, dtype=np.float32)
    split = n_viewers if uniform_from is None else min(max(uniform_from, 0), n_viewers)
    uniform = np.float32(1.0) / np.float32(n_items)  # exactly 1 / (ones @ ones), as below
    top_k = TopK(n_items, k, min(BLOCK_ROWS, n_viewers))
    # Flagged viewers all rank by the same scores: their top k, once.
    override_top = (
        _top_k(np.array(override, dtype=np.float32, ndmin=2), k)[0] if override is not None
        else None
    )
    for start, stop in _blocks(split, n_viewers):
        block = slice(start, stop)
        att: np.ndarray | None = None
        if start < split:
            query = np.asarray(queries[block], dtype=np.float32)
            # Unnormalised attention (N×block): dividing a viewer's column by its sum does
            # not change its order, so only the k picked values are normalised.
            att = keys_n @ query.T
            norms = np.sqrt(np.einsum("ij,ij->i", query, query))
            if float(norms.max(initial=0.0)) * key_norm > _SAFE_EXP:
                att -= att.max(axis=0)
            np.exp(att, out=att)
            inv_sum = 1.0 / (ones @ att)  # sums as a vector-matrix product: 4× faster
        # 1 + e^(-z), the reciprocal of the propensity: dividing by it saves a pass over V×N;
        # only the picked values are inverted. A fresh float32 array is reused in place; a
        # view of the caller's array is copied first.
        inv_prop = _own_float32(inverse_odds(start, stop))
        inv_prop += 1.0
        # a uniform viewer's unnormalised attention is exp(0) = 1 for every item
        score = np.divide(att, inv_prop) if att is not None else np.reciprocal(inv_prop)
        top = top_k(order_key(score))
        flagged = None
        if override_top is not None and override_rows is not None:
            flagged = override_rows[block]
            if flagged.any():
                top[flagged] = override_top
            else:
                flagged = None
        out.top[block] = top
        picked = top * (stop - start) + np.arange(stop - start)[:, None]  # flat, in N×block
        if att is not None:
            out.attention[block] = att.reshape(-1).take(picked) * inv_sum[:, None]
        else:
            out.attention[block] = uniform
        out.propensity[block] = 1.0 / inv_prop.reshape(-1).take(picked)
        np.multiply(out.attention[block], out.propensity[block], out=out.score[block])
        if flagged is not None and override is not None:
            out.score[block][flagged] = override[top[flagged]]
    return out


def order_key(score: np.ndarray) -> np.ndarray:
    """``score`` (fresh float32, changed in place) rounded to ``ORDER_BITS`` significant
    bits, half away from zero, on the bit pattern: integer operations, the same on every CPU.

    >>> order_key(np.array([1.0, 1.0 + 2**-20, 3.0], np.float32)).tolist()
    [1.0, 1.0, 3.0]
    """
    bits = score.view(np.uint32)
    nan = np.isnan(score)
    bits += np.uint32(1 << (_DROPPED - 1))
    bits &= np.uint32((0xFFFFFFFF << _DROPPED) & 0xFFFFFFFF)
    if nan.any():  # a NaN stays NaN (its bit pattern could wrap)
        score[nan] = np.nan
    return score


def _blocks(split: int, n_rows: int) -> list[tuple[int, int]]:
    """Row blocks of up to ``BLOCK_ROWS``, none straddling ``split``."""
    return [
        (start, min(start + BLOCK_ROWS, end))
        for begin, end in ((0, split), (split, n_rows))
        for start in range(begin, end, BLOCK_ROWS)
    ]


def from_logits(logits: LogitFn) -> LogitFn:
    """``rank``'s ``inverse_odds`` from a function that gives the logits (block×N, viewers
    down): float32 e^(−z), transposed (N×block) as ``rank`` reads it.

    >>> odds = from_logits(lambda start, stop: np.zeros((stop - start, 2), np.float32))
    >>> odds(0, 1).tolist()
    [[1.0], [1.0]]
    """

    def inverse_odds(start: int, stop: int) -> np.ndarray:
        odds = np.array(np.asarray(logits(start, stop)).T, dtype=np.float32, order="C")
        np.negative(odds, out=odds)  # a copy: changed in place
        np.exp(odds, out=odds)
        return odds

    return inverse_odds


def _own_float32(values: np.ndarray) -> np.ndarray:
    fresh = values.dtype == np.float32 and values.base is None and values.flags.writeable
    return values if fresh else np.array(values, dtype=np.float32)


class TopK:
    """``_top_k`` of the columns of an (items × viewers) block: the ``k`` largest scores of
    each viewer, best first, ties to the lower item index. In this layout ``max`` runs down
    the items vectorised across viewers; ``argmax`` along rows of ~50 items pays a fixed
    cost per row that was a third of ``build_push`` (0.67 ms per 8192 × 50 block). A
    column's best item is the first equal to its maximum: one more ``max``, over the
    equalities weighted ``N − j``. Blocks holding NaN go to ``_top_k`` (``max`` spreads
    NaN, ``argmax`` picks it); ``tests/models/test_ranking.py`` checks the two agree.
    """

    def __init__(self, n_items: int, k: int, max_viewers: int) -> None:
        self.k = k
        self.n_items = n_items
        weight = np.uint8 if n_items < 256 else np.uint16 if n_items < 65_536 else np.int64
        self.weights = (n_items - np.arange(n_items)).astype(weight)[:, None]
        self.equal = np.empty((n_items, max_viewers), dtype=bool)  # scratch, reused
        self.weighted = np.empty((n_items, max_viewers), dtype=weight)

    def __call__(self, score: np.ndarray) -> np.ndarray:
        """(viewers × k) item indices; ``score`` (items × viewers) is overwritten."""
        n_viewers = score.shape[1]
        if np.isnan(score).any():
            return _top_k(np.ascontiguousarray(score.T), self.k)
        if n_viewers > self.equal.shape[1]:
            self.equal = np.empty((self.n_items, n_viewers), dtype=bool)
            self.weighted = np.empty((self.n_items, n_viewers), dtype=self.weights.dtype)
        equal, weighted = self.equal[:, :n_viewers], self.weighted[:, :n_viewers]
        viewers = np.arange(n_viewers)
        top = np.empty((self.k, n_viewers), dtype=np.int64)
        for r in range(self.k):
            np.equal(score, score.max(axis=0), out=equal)
            np.multiply(equal, self.weights, out=weighted)
            np.subtract(self.n_items, weighted.max(axis=0), out=top[r], casting="unsafe")
            if r + 1 < self.k:
                score[top[r], viewers] = -np.inf
        return top.T


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` largest values, best first, ties to the lower index;
    ``score`` is overwritten (picked values become ``-inf``). ``TopK``'s readable twin."""
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
    key = order_key(np.array(scores, dtype=np.float32)).tolist()
    order = sorted(range(len(keys)), key=lambda j: (-key[j], j))[:k]
    return [(j, scores[j], attention[j], propensity[j]) for j in order]
