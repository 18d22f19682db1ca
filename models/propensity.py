"""Purchase propensity: online logistic regression, scored for a whole room at once.

Features of a (viewer, item) pair come in three groups: the viewer's own (``VIEWER_FEATURES``:
spend tier, observed spend, activity, hashed attrs), the item's in the room right now
(``ITEM_FEATURES``: price, spotlight, momentum in the window) and pairwise ones
(``PAIR_FEATURES``: price against the viewer's purchasing power, category affinity). The model
learns one example at a time with River's logistic regression update (``models.logistic``,
checked against River's own learner); to score 100k viewers × 50 items it reads the weights
into numpy, which gives the same logit as ``predict_proba_one`` on each pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from features.catalog import ITEM_FEATURES
from features.viewers import VIEWER_FEATURES
from models.logistic import LogisticRegression

PAIR_FEATURES: Final = ("budget_gap", "budget_distance", "tier_x_price", "category_affinity")
FEATURES: Final = (
    *(f"v_{n}" for n in VIEWER_FEATURES),
    *(f"i_{n}" for n in ITEM_FEATURES),
    *(f"p_{n}" for n in PAIR_FEATURES),
)
_NV, _NI = len(VIEWER_FEATURES), len(ITEM_FEATURES)

# Starting weights, so that a room with no conversions yet still ranks sensibly: the item
# on stage and items with momentum first, items near the viewer's usual spend and favourite
# categories ahead. Learning moves them like any other weight.
PRIORS: Final = {
    "i_spotlight": 1.0,
    "i_log_clicks_w": 0.3,
    "i_log_carts_w": 0.3,
    "i_log_purchases_w": 0.3,
    "p_budget_distance": -0.3,
    "p_category_affinity": 0.5,
}
TIER = VIEWER_FEATURES.index("tier")
LOG_PRICE = ITEM_FEATURES.index("log_price")


def pair_features(
    viewer_x: np.ndarray,
    log_budget: np.ndarray,
    budget_known: np.ndarray,
    category_share: np.ndarray,
    item_x: np.ndarray,
    item_category: np.ndarray,
) -> np.ndarray:
    """(P, V, N) pairwise features for V viewers × N items."""
    log_price = item_x[:, LOG_PRICE][None, :]
    gap = log_price - log_budget[:, None]
    known = budget_known[:, None]
    return np.stack(
        [
            known * gap,
            known * np.abs(gap),
            viewer_x[:, TIER][:, None] * log_price,
            category_share[:, item_category],
        ]
    ).astype(np.float32, copy=False)


def pair_row(viewer_row: list[float], log_budget: float, budget_known: float,
             category_share: float, item_row: list[float]) -> list[float]:
    """``pair_features`` of one (viewer, item) pair in plain Python (the readable twin)."""
    log_price = item_row[LOG_PRICE]
    gap = log_price - log_budget
    return [
        budget_known * gap,
        budget_known * abs(gap),
        viewer_row[TIER] * log_price,
        category_share,
    ]


class PropensityModel:
    """P(a viewer carts or buys an item) learned online, test-then-learn.

    >>> import numpy as np
    >>> m = PropensityModel()
    >>> x = m.example(np.zeros(len(VIEWER_FEATURES)), np.ones(len(ITEM_FEATURES)),
    ...               np.zeros(len(PAIR_FEATURES)))
    >>> round(m.predict_one(x), 3)  # only the item priors speak for a cold room
    0.87
    >>> m.learn_one(x, True); m.predict_one(x) > 0.5
    True
    """

    def __init__(self, lr: float = 0.05, l2: float = 1e-4) -> None:
        self.model = LogisticRegression(FEATURES, lr=lr, l2=l2, initial=PRIORS)

    @staticmethod
    def example(viewer_x: Sequence[float], item_x: Sequence[float],
                pair_x: Sequence[float]) -> dict[str, float]:
        values = [float(v) for part in (viewer_x, item_x, pair_x) for v in part]
        return dict(zip(FEATURES, values, strict=True))

    def predict_one(self, x: dict[str, float]) -> float:
        return float(self.model.predict_proba_one(x)[True])

    def learn_one(self, x: dict[str, float], y: bool, w: float = 1.0) -> None:
        self.model.learn_one(x, y, w=w)

    def predict_values(self, values: Sequence[float]) -> float:
        """``predict_one`` of an example given as values in ``FEATURES`` order."""
        return self.model.proba_values(values)

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None:
        self.model.learn_values(values, y, w)

    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The weights as arrays for the viewer, item and pair groups, plus intercept."""
        w = self.model.weight_array()
        return w[:_NV], w[_NV : _NV + _NI], w[_NV + _NI :], float(self.model.intercept)

    def logits_fast(self, viewer_x: np.ndarray, log_budget: np.ndarray, budget_known: np.ndarray,
                    category_share: np.ndarray, item_x: np.ndarray,
                    item_category: np.ndarray) -> np.ndarray:
        """``logits(viewer_x, item_x, pair_features(...))`` without building the (P, V, N)
        feature stack: the pairwise terms that are outer products fold into per-viewer and
        per-item vectors, leaving four passes over V×N (``tests/unit/test_propensity.py``)."""
        wv, wi, wp, bias = self.weights()
        w_gap, w_dist, w_tier, w_cat = (float(w) for w in wp)
        f32 = np.float32
        log_price = item_x[:, LOG_PRICE].astype(f32)
        log_budget = log_budget.astype(f32, copy=False)
        known = budget_known.astype(f32, copy=False)
        # w_gap·known·(p − b) + w_tier·tier·p  =  (w_gap·known + w_tier·tier)·p − w_gap·known·b
        per_viewer = (viewer_x @ wv - w_gap * known * log_budget).astype(f32)
        slope = (w_gap * known + w_tier * viewer_x[:, TIER]).astype(f32)
        # Every V×N pass below writes float32 in place: no float64 temporaries, no casts.
        out = np.add.outer(per_viewer, (item_x @ wi + bias).astype(f32))
        scratch = np.multiply.outer(slope, log_price)
        out += scratch
        np.subtract.outer(log_budget, log_price, out=scratch)
        np.abs(scratch, out=scratch)
        scratch *= (w_dist * known).astype(f32)[:, None]
        out += scratch
        if w_cat:
            # take, not share[:, idx]: fancy indexing there returns a column-major array
            # and the add that follows then runs ~8× slower.
            np.take((category_share * w_cat).astype(f32), item_category, axis=1, out=scratch)
            out += scratch
        return out

    def logits(self, viewer_x: np.ndarray, item_x: np.ndarray, pair_x: np.ndarray) -> np.ndarray:
        """(V, N) logits; ``pair_x`` is (P, V, N) from ``pair_features``."""
        wv, wi, wp, bias = self.weights()
        out = np.tensordot(wp, pair_x, axes=1) if len(wp) else np.zeros(pair_x.shape[1:])
        out += (viewer_x @ wv)[:, None]
        out += (item_x @ wi)[None, :] + bias
        return out.astype(np.float32, copy=False)
