"""e^(−z) of the propensity logits as a product of small exponentials.

The ranking divides attention by ``1 + e^(−z)``. Computed directly, ``e^(−z)`` costs a
float32 ``exp`` per (viewer, item) pair, about 18 ms per 100k × 50 on the dev machine (numpy's
float32 ``exp`` runs at ~4 ns an element there; a multiply at ~0.2 ns). But the logit is a sum
of terms that each depend on few values, so its exponential is a product of exponentials of
few values:

    z[v, j] = P[v] + Q[j] + s[v]·p[j] + W[v, c(j)] + a[v]·|b[v] − p[j]|
    e^(−z)  = e^(−P[v]) · e^(−Q[j]) · T[s[v], j] · e^(−W)[v, c(j)] · e^(−a·|b − p|)

with one ``exp`` per viewer, per item, per (distinct slope, item), per (viewer, category) and
per (buyer, item): ``a`` (the budget weight times "has a known budget") is zero for viewers who
never bought, and the slopes ``s`` take a handful of values (spend tiers). The product is exact
up to float32 rounding (~1e-6 relative) as long as nothing overflows, which a bound on the
exponents guarantees; otherwise, or with too many distinct slopes, ``factored_inverse_odds``
returns None and the caller takes ``exp(−z)`` (``tests/models/test_odds.py`` compares the two).

The product form is taken on every machine (``PRODUCT_PAYS``), wherever the data allow it
(the bound and the slope count above: facts of the room, not of the host). It once depended
on the CPU (on AVX-512, numpy's float32 ``exp`` is cheap, ~0.3 ns an element on a Zen 5 EPYC,
and there the product's extra passes cost ~1.5 ms more at 100k × 50), but two paths mean
scores that differ in the last bits between hosts, and pushes that differ on near-ties: a
cluster of mixed machines, or a replay on another host, must push the same items. The
ranking's rounded order (``models.ranking.order_key``) absorbs what numpy's own SIMD kernels
still vary.
"""

from __future__ import annotations

import numpy as np

MAX_EXPONENT = 80.0  # |sum of exponents| under which no partial product leaves float32 range
MAX_SLOPES = 64  # distinct slopes a block may have for the slope table to pay


PRODUCT_PAYS: bool = True  # one numeric path on every CPU: see the module's note


def factored_inverse_odds(
    per_viewer: np.ndarray,
    per_item: np.ndarray,
    slope: np.ndarray,
    log_price: np.ndarray,
    category_weight: np.ndarray | None,
    item_category: np.ndarray,
    budget_coef: np.ndarray,
    log_budget: np.ndarray,
) -> np.ndarray | None:
    """e^(−z) for V viewers × N items (float32), or None when the product form cannot be
    trusted. ``category_weight`` is (V × C) ``w_cat·share`` (None when w_cat is 0);
    ``budget_coef`` is ``w_dist·known`` per viewer.

    >>> one = np.ones(2, np.float32)
    >>> out = factored_inverse_odds(one * 0.5, one[:1] * 0.25, one * 0, np.zeros(1, np.float32),
    ...                             None, np.zeros(1, np.intp), one * 0, one)
    >>> np.allclose(out, np.exp(-0.75))
    True
    """
    f32 = np.float32
    slopes, slope_index = np.unique(slope, return_inverse=True)
    if len(slopes) > MAX_SLOPES:
        return None
    buyers = np.flatnonzero(budget_coef)
    bound = (
        _max_abs(per_viewer)
        + _max_abs(per_item)
        + _max_abs(slopes) * _max_abs(log_price)
        + (_max_abs(category_weight) if category_weight is not None else 0.0)
        + (_max_abs(budget_coef) * (_max_abs(log_budget) + _max_abs(log_price))
           if len(buyers) else 0.0)
    )
    if not bound <= MAX_EXPONENT:  # also catches NaN
        return None
    viewer_factor = np.exp(-per_viewer, dtype=f32)
    item_factor = np.exp(-per_item, dtype=f32)
    if category_weight is None:
        out = np.multiply.outer(viewer_factor, item_factor)
    else:
        # e^(−P[v])·e^(−W[v, c(j)])·e^(−Q[j]) in one small matrix product: (V × C) by a
        # (C × N) one-hot of the items' categories scaled by e^(−Q[j]); each output sums a
        # single non-zero product, so it is exact, and cheaper than gathering columns.
        by_category = np.exp(-category_weight, dtype=f32)
        by_category *= viewer_factor[:, None]
        one_hot = np.zeros((category_weight.shape[1], len(item_factor)), dtype=f32)
        one_hot[item_category, np.arange(len(item_factor))] = item_factor
        out = by_category @ one_hot
    table = np.exp(-np.multiply.outer(slopes, log_price), dtype=f32)
    out *= table.take(slope_index.reshape(-1), axis=0)
    if len(buyers):
        gap = np.subtract.outer(log_budget.take(buyers), log_price)
        np.abs(gap, out=gap)
        gap *= -budget_coef.take(buyers)[:, None]
        np.exp(gap, out=gap)
        out[buyers] *= gap
    return out


def _max_abs(values: np.ndarray) -> float:
    return float(np.abs(values).max(initial=0.0))
