"""The top ``k`` of many viewers' scores at once, in the same order on every machine.

``models.push`` scores viewers in blocks of ``BLOCK_ROWS`` so intermediates stay in cache, in
float32 (``exp`` is 4× faster than in float64); each block's scores are laid out items down and
viewers across, so that the top ``k`` come from ``k`` passes of ``max`` down the items,
vectorised across viewers (``TopK``; ``argmax`` along each viewer's short row, its readable
twin ``_top_k``, pays a fixed cost per row). For fewer than 256 items, ``top_k_of_keys`` packs
each item's index into the rounded keys' spare bits: one ``max`` per rank.

The order is decided on scores rounded to ``ORDER_BITS`` significant bits (``order_key``),
ties to the lower showcase index. Why: the last bits of a score depend on the CPU (numpy's
``exp`` and BLAS pick SIMD kernels per machine), so two items whose scores differ by a few
ulps (near-duplicate products) would swap between hosts; rounded, they tie, and the index
decides on every machine. What remains: a score within a few ulps of a rounding boundary can
still land on either side (about one such pair in 2^(23 − ORDER_BITS − 2)). The pushed
``score`` keeps full precision, so within one rounding step it need not decrease.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = 8192
ORDER_BITS = 16  # significant bits of a score that the order sees: ~1.5e-5 relative steps
_DROPPED = 24 - ORDER_BITS  # of float32's 24 significant bits
PACKED_ITEMS = 1 << _DROPPED  # top_k_of_keys ranks fewer items than this


@dataclass(slots=True)
class Ranked:
    """Top-``k`` per viewer: item indices best first, and the values behind them."""

    top: np.ndarray  # (V, k) int64 indices into the showcase
    score: np.ndarray  # (V, k) float32
    attention: np.ndarray  # (V, k) float32
    propensity: np.ndarray  # (V, k) float32


def order_key(score: np.ndarray, finite: bool = False) -> np.ndarray:
    """``score`` (fresh float32, changed in place) rounded to ``ORDER_BITS`` significant
    bits, half away from zero, on the bit pattern: integer operations, the same on every CPU.
    ``finite``: the caller knows ``score`` holds no NaN (no pass to look for one).

    >>> order_key(np.array([1.0, 1.0 + 2**-20, 3.0], np.float32)).tolist()
    [1.0, 1.0, 3.0]
    """
    bits = score.view(np.uint32)
    nan = None if finite else np.isnan(score)
    bits += np.uint32(1 << (_DROPPED - 1))
    bits &= np.uint32((0xFFFFFFFF << _DROPPED) & 0xFFFFFFFF)
    if nan is not None and nan.any():  # a NaN stays NaN (its bit pattern could wrap)
        score[nan] = np.nan
    return score


class TopK:
    """``_top_k`` of the columns of an (items × viewers) block: the ``k`` largest scores of
    each viewer, best first, ties to the lower item index. In this layout ``max`` runs down
    the items vectorised across viewers; ``argmax`` along rows of ~50 items pays a fixed
    cost per row that was a third of ``build_push`` (0.67 ms per 8192 × 50 block). A
    column's best item is the first equal to its maximum: one more ``max``, over the
    equalities weighted ``N − j``. Blocks holding NaN or infinities go to ``_top_k`` (``max``
    spreads NaN, and a ``-inf`` would tie with the picked items; there NaN ranks last);
    ``tests/models/test_ranking.py`` checks the two agree.
    """

    def __init__(self, n_items: int, k: int, max_viewers: int) -> None:
        self.k = k
        self.n_items = n_items
        weight = np.uint8 if n_items < 256 else np.uint16 if n_items < 65_536 else np.int64
        self.weights = (n_items - np.arange(n_items)).astype(weight)[:, None]
        self.equal = np.empty((n_items, max_viewers), dtype=bool)  # scratch, reused
        self.weighted = np.empty((n_items, max_viewers), dtype=weight)

    def __call__(self, score: np.ndarray, finite: bool = False) -> np.ndarray:
        """(viewers × k) item indices; ``score`` (items × viewers) is overwritten.
        ``finite``: the caller knows ``score`` holds no NaN or infinity."""
        n_viewers = score.shape[1]
        if not finite and not np.isfinite(score).all():
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


def top_k_of_keys(key: np.ndarray, k: int) -> np.ndarray:
    """``TopK`` of an (items × viewers) block of ``order_key`` keys, for fewer than
    ``2**_DROPPED`` items and keys known finite and non-negative (a score's ``attention ×
    propensity``): (viewers × k) item indices; ``key`` is overwritten.

    Rounding leaves a key's last ``_DROPPED`` bits zero, and a non-negative float's bits
    order as an unsigned integer does, so ``N − j`` written into those bits makes one ``max``
    down the items give the best key and, among equal keys, the lowest index: one pass per
    rank instead of ``TopK``'s six. ``_top_k`` is its twin (``tests/models/test_ranking.py``).

    >>> key = order_key(np.array([[0.5, 0.2], [0.7, 0.2], [0.5, 0.9]], np.float32), True)
    >>> top_k_of_keys(key, 2).tolist()
    [[1, 0], [2, 0]]
    """
    n_items, n_viewers = key.shape
    if n_items >= PACKED_ITEMS:
        raise ValueError(f"top_k_of_keys takes fewer than {PACKED_ITEMS} items, not {n_items}")
    bits = key.view(np.uint32)
    bits |= (n_items - np.arange(n_items, dtype=np.uint32))[:, None]
    low = np.uint32((1 << _DROPPED) - 1)
    viewers = np.arange(n_viewers)
    top = np.empty((k, n_viewers), dtype=np.int64)
    for r in range(k):
        best = bits.max(axis=0)
        best &= low
        np.subtract(n_items, best, out=top[r], casting="unsafe")
        if r + 1 < k:
            bits[top[r], viewers] = 0  # below every key left: each holds N − j ≥ 1
    return top.T


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` largest values, best first, ties to the lower index, and a
    NaN below every number (a score that could not be computed is never pushed first; the
    push writes it as 0.0). ``TopK``'s readable twin: one stable sort per row.

    >>> _top_k(np.array([[np.nan, 0.2, 0.5, np.nan]], np.float32), 3).tolist()
    [[2, 1, 0]]
    """
    key = np.where(np.isnan(score), -np.inf, score)
    return np.argsort(-key, axis=1, kind="stable")[:, :k]


def top_of_one(key: np.ndarray, k: int) -> np.ndarray:
    """``_top_k`` of one viewer's (finite) keys as a (1, k) array: one stable ``argsort`` (ties
    to the lower index, as ``argmax`` takes the first maximum) instead of ``k`` passes of
    ``argmax`` and writes, for the one-viewer push. Keys with NaN go to ``_top_k`` itself
    (NaN last)."""
    if not np.isfinite(key).all():
        return _top_k(key[None, :].copy(), k)
    return np.argsort(-key, kind="stable")[None, :k]

