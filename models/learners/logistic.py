"""River's ``LogisticRegression`` on a fixed, dense feature list.

The propensity learner sees the same 26 features in every example, so River's per-example
dict machinery (a ``VectorDict`` for the weights, another for the gradient, a masked copy for
learning) is pure overhead: about 50 µs an example. This keeps River's update term for term —
log-loss gradient with its ±18 cut-offs, sample weight, gradient clamp, intercept step, then
``w −= lr·(g·x + l2·w)`` — on a list of floats
(``tests/models/learners/test_logistic.py`` runs both on
the same stream and compares weights, intercept and predictions). It is the fast
``PropensityLearner`` (``models.learners.protocols``);
``models.learners.river_adapters.RiverLogisticRegression`` runs River's own estimator instead.

A non-finite example (a NaN or infinite feature or sample weight) or a step whose result would
not be finite is refused: the weights stay as they were and ``refused`` counts it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence

import numpy as np


def _log_loss_gradient(y: bool, raw: float) -> float:
    sign = 1 if y else -1
    z = raw * sign
    if z > 18.0:
        return math.exp(-z) * -sign
    if z < -18.0:
        return float(-sign)
    return -sign / (math.exp(z) + 1.0)


def _sigmoid(raw: float) -> float:
    if raw < -30:
        return 0.0
    if raw > 30:
        return 1.0
    return 1.0 / (1.0 + math.exp(-raw))


class LogisticRegression:
    """Binary logistic regression by SGD over ``names``, River-compatible.

    >>> model = LogisticRegression(("a", "b"), lr=0.1)
    >>> model.predict_proba_one({"a": 1.0, "b": 0.0})[True]
    0.5
    >>> model.learn_one({"a": 1.0, "b": 0.0}, True)
    >>> model.predict_one({"a": 1.0, "b": 0.0}) > 0.5
    True
    >>> model.learn_one({"a": float("nan"), "b": 0.0}, False); model.refused
    1
    """

    def __init__(self, names: Sequence[str], lr: float = 0.01, l2: float = 0.0,
                 intercept_lr: float = 0.01, clip_gradient: float = 1e12,
                 initial: Mapping[str, float] | None = None) -> None:
        self.names = tuple(names)
        self.lr = lr
        self.l2 = l2
        self.intercept_lr = intercept_lr
        self.clip = clip_gradient
        self.coef = [float((initial or {}).get(name, 0.0)) for name in self.names]
        self.intercept = 0.0
        self.refused = 0

    def __setstate__(self, state: dict[str, object]) -> None:
        """Snapshots written before ``refused`` existed restore with a zero count."""
        state.setdefault("refused", 0)
        self.__dict__.update(state)

    # -- dense, the job's path -------------------------------------------------------------
    def raw_values(self, values: Sequence[float]) -> float:
        return sum(map(operator.mul, self.coef, values)) + self.intercept

    def predict_values(self, values: Sequence[float]) -> float:
        return _sigmoid(self.raw_values(values))

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None:
        """River's step; the raw score is NaN or ±inf iff a feature is not finite (or a
        product overflows), and the new weights are checked through their sum likewise."""
        raw = self.raw_values(values)
        if not (math.isfinite(raw) and math.isfinite(w)):
            self.refused += 1
            return
        g = _log_loss_gradient(y, raw) * w
        g = min(max(g, -self.clip), self.clip)
        intercept = self.intercept - self.intercept_lr * g
        lr, l2 = self.lr, self.l2
        coef = [c - lr * (g * x + l2 * c) for c, x in zip(self.coef, values, strict=True)]
        if not math.isfinite(sum(coef) + intercept):
            self.refused += 1
            return
        self.intercept = intercept
        self.coef = coef

    def weights(self) -> tuple[np.ndarray, float]:
        return np.array(self.coef, dtype=np.float64), self.intercept

    # -- River's interface -----------------------------------------------------------------
    def _values(self, x: Mapping[str, float]) -> list[float]:
        """Examples must be complete: River regularises only the features an example has."""
        if set(x) != set(self.names):
            raise KeyError(f"an example needs exactly the features {self.names}")
        return [float(x[name]) for name in self.names]

    def predict_one(self, x: Mapping[str, float]) -> float:
        return self.predict_values(self._values(x))

    def predict_proba_one(self, x: Mapping[str, float]) -> dict[bool, float]:
        p = self.predict_one(x)
        return {False: 1.0 - p, True: p}

    def learn_one(self, x: Mapping[str, float], y: bool, w: float = 1.0) -> None:
        self.learn_values(self._values(x), y, w)
