"""Purchase propensity: online logistic regression, scored for a whole room at once.

Features of a (viewer, item) pair come in three groups: the viewer's own (``VIEWER_FEATURES``:
spend tier, observed spend, activity, hashed attrs), the item's in the room right now
(``ITEM_FEATURES``: price, spotlight, momentum in the window) and pairwise ones
(``PAIR_FEATURES``: price against the viewer's purchasing power, category affinity). The model
learns one example at a time through a ``PropensityLearner`` (``models.learners.protocols``):
River's logistic regression update on a float list (``models.learners.logistic``, checked
against River's own learner), or River's own ``LogisticRegression``
(``models.learners.river_adapters``, ``--learner river``); to score 100k viewers × 50 items
it reads the weights into numpy, which gives the same logit as ``predict_one`` on each pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.state.catalog import ITEM_FEATURES
from features.state.viewers import VIEWER_FEATURES
from models.learners.choice import propensity_learner
from models.odds import PRODUCT_PAYS, factored_inverse_odds

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
LOG_AVG_SPEND = VIEWER_FEATURES.index("log_avg_spend")  # the log budget of pair features
BUDGET_KNOWN = VIEWER_FEATURES.index("has_spend")
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


@dataclass(slots=True)
class _Terms:
    per_viewer: np.ndarray  # (V,) everything in the logit that depends on the viewer only
    per_item: np.ndarray  # (N,) … on the item only, bias included
    slope: np.ndarray  # (V,) coefficient of the item's log price
    log_price: np.ndarray  # (N,)
    log_budget: np.ndarray  # (V,)
    budget_coef: np.ndarray  # (V,) w_dist · known: weight of |log_price − log_budget|
    w_cat: float


class PropensityModel:
    """P(a viewer carts or buys an item) learned online, test-then-learn: a
    ``PropensityLearner`` over ``FEATURES`` (starting from ``PRIORS``) plus the fast scorers.

    >>> import numpy as np
    >>> m = PropensityModel()
    >>> x = m.example(np.zeros(len(VIEWER_FEATURES)), np.ones(len(ITEM_FEATURES)),
    ...               np.zeros(len(PAIR_FEATURES)))
    >>> round(m.predict_one(x), 3)  # only the item priors speak for a cold room
    0.87
    >>> m.learn_one(x, True); m.predict_one(x) > 0.5
    True
    """

    def __init__(self, lr: float = 0.05, l2: float = 1e-4, learner: str = "fast") -> None:
        self.model = propensity_learner(learner, FEATURES, lr=lr, l2=l2, initial=PRIORS)

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURES

    @property
    def refused(self) -> int:
        return self.model.refused

    @staticmethod
    def example(viewer_x: Sequence[float], item_x: Sequence[float],
                pair_x: Sequence[float]) -> dict[str, float]:
        values = [float(v) for part in (viewer_x, item_x, pair_x) for v in part]
        return dict(zip(FEATURES, values, strict=True))

    def predict_one(self, x: Mapping[str, float]) -> float:
        return self.model.predict_one(x)

    def learn_one(self, x: Mapping[str, float], y: bool, w: float = 1.0) -> None:
        self.model.learn_one(x, y, w)

    def predict_values(self, values: Sequence[float]) -> float:
        """``predict_one`` of an example given as values in ``FEATURES`` order."""
        return self.model.predict_values(values)

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None:
        self.model.learn_values(values, y, w)

    def weights(self) -> tuple[np.ndarray, float]:
        return self.model.weights()

    def weight_groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The weights (float32) for the viewer, item and pair groups, plus intercept."""
        coef, intercept = self.model.weights()
        w = coef.astype(np.float32)
        return w[:_NV], w[_NV : _NV + _NI], w[_NV + _NI :], float(intercept)

    def _terms(self, viewer_x: np.ndarray, log_budget: np.ndarray, budget_known: np.ndarray,
               item_x: np.ndarray) -> _Terms:
        """The logit's per-viewer and per-item parts (float32), shared by both fast paths."""
        wv, wi, wp, bias = self.weight_groups()
        w_gap, w_dist, w_tier, w_cat = (float(w) for w in wp)
        f32 = np.float32
        log_budget = log_budget.astype(f32, copy=False)
        known = budget_known.astype(f32, copy=False)
        # w_gap·known·(p − b) + w_tier·tier·p  =  (w_gap·known + w_tier·tier)·p − w_gap·known·b
        return _Terms(
            per_viewer=(viewer_x @ wv - w_gap * known * log_budget).astype(f32),
            per_item=(item_x @ wi + bias).astype(f32),
            slope=(w_gap * known + w_tier * viewer_x[:, TIER]).astype(f32),
            log_price=item_x[:, LOG_PRICE].astype(f32),
            log_budget=log_budget,
            budget_coef=(w_dist * known).astype(f32),
            w_cat=w_cat,
        )

    def logits_fast(self, viewer_x: np.ndarray, log_budget: np.ndarray, budget_known: np.ndarray,
                    category_share: np.ndarray, item_x: np.ndarray,
                    item_category: np.ndarray, transposed: bool = False) -> np.ndarray:
        """``logits(viewer_x, item_x, pair_features(...))`` without building the (P, V, N)
        feature stack: the pairwise terms that are outer products fold into per-viewer and
        per-item vectors and one small matrix product, leaving four passes over V×N for the
        |price − budget| term (``tests/models/test_propensity.py``). ``transposed`` gives
        them items down (N×V), as the ranking reads them, at no extra cost."""
        t = self._terms(viewer_x, log_budget, budget_known, item_x)
        f32 = np.float32
        # The bilinear terms (per viewer + per item + slope·price + w_cat·share[category]) are
        # one small float32 matrix product, [per_viewer, 1, slope, w_cat·share] @ [1; per_item;
        # log_price; one-hot category]: ~5 ms per 100k × 50 against ~23 ms as outer sums and a
        # gather. Only the |gap| term needs passes of its own.
        n_cat = category_share.shape[1] if t.w_cat else 0
        left = np.empty((len(t.per_viewer), 3 + n_cat), dtype=f32)
        left[:, 0] = t.per_viewer
        left[:, 1] = 1.0
        left[:, 2] = t.slope
        right = np.zeros((3 + n_cat, len(t.log_price)), dtype=f32)
        right[0] = 1.0
        right[1] = t.per_item
        right[2] = t.log_price
        if n_cat:
            np.multiply(category_share, t.w_cat, out=left[:, 3:])
            right[3 + np.asarray(item_category), np.arange(len(t.log_price))] = 1.0
        # w_dist·known·|log_price − log_budget| is zero for viewers who never bought (most of a
        # room): pay its four passes only for the viewers who did.
        coef, log_budget = t.budget_coef, t.log_budget
        buyers = np.flatnonzero(coef)
        dense = len(buyers) > len(coef) // 2  # mostly buyers: dense passes beat gathers
        if dense:
            gap = np.subtract.outer(t.log_price, log_budget)
            np.abs(gap, out=gap)
            gap *= coef
        elif len(buyers):
            gap = np.subtract.outer(t.log_price, log_budget.take(buyers))
            np.abs(gap, out=gap)
            gap *= coef.take(buyers)
        if transposed:
            out = right.T @ left.T
            if dense:
                out += gap
            elif len(buyers) and buyers[-1] - buyers[0] + 1 == len(buyers):
                out[:, buyers[0] : buyers[-1] + 1] += gap  # buyers side by side: a slice
            elif len(buyers):
                out[:, buyers] += gap  # columns by fancy index: ~10× slower than a slice
        else:
            out = left @ right
            if dense:
                out += gap.T
            elif len(buyers):
                out[buyers] += gap.T
        return out

    def inverse_odds_fast(self, viewer_x: np.ndarray, log_budget: np.ndarray,
                          budget_known: np.ndarray, category_share: np.ndarray,
                          item_x: np.ndarray, item_category: np.ndarray,
                          product: bool | None = None, transposed: bool = False) -> np.ndarray:
        """``exp(−logits_fast(...))``, what the ranking divides by (plus one): as a product of
        small exponentials where that is safe and pays (``models.odds``; ``product`` overrides
        the machine's choice, for tests), else by ``exp`` itself. ``transposed``: N×V."""
        if PRODUCT_PAYS if product is None else product:
            t = self._terms(viewer_x, log_budget, budget_known, item_x)
            weighted = (category_share * t.w_cat).astype(np.float32) if t.w_cat else None
            out = factored_inverse_odds(t.per_viewer, t.per_item, t.slope, t.log_price,
                                        weighted, np.asarray(item_category), t.budget_coef,
                                        t.log_budget)
            if out is not None:
                return np.ascontiguousarray(out.T) if transposed else out
        out = self.logits_fast(viewer_x, log_budget, budget_known, category_share, item_x,
                               item_category, transposed)
        np.negative(out, out=out)  # fresh float32: in place (ranking.from_logits copies)
        np.exp(out, out=out)
        return out

    def logits(self, viewer_x: np.ndarray, item_x: np.ndarray, pair_x: np.ndarray) -> np.ndarray:
        """(V, N) logits; ``pair_x`` is (P, V, N) from ``pair_features``."""
        wv, wi, wp, bias = self.weight_groups()
        out = np.tensordot(wp, pair_x, axes=1) if len(wp) else np.zeros(pair_x.shape[1:])
        out += (viewer_x @ wv)[:, None]
        out += (item_x @ wi)[None, :] + bias
        return out.astype(np.float32, copy=False)
