"""The room's choice model: which item on show a viewer picks, learned one choice at a time.

A viewer who acts picks one item among the ``N`` on show. The model gives item ``j`` the
probability ``P(j) ∝ attention_j × propensity_j``, with ``attention = softmax(taste · w_t)``
over the showcase (the seed's ``softmax(q Kᵀ/√d)``, the query being the viewer's taste weighted
by ``w_t``) and ``propensity = sigmoid(power · w_p)``: exactly the score the job ranks by, so
the model is trained on what it predicts. ``learn_one`` takes one gradient step on
``log P(chosen)``, the other items on show being the alternatives (listwise), with an L2 pull
toward the starting weights so that a quiet room stays near them.

River-shaped: ``predict_proba_one`` / ``learn_one`` take a showcase as a list of feature dicts;
``parts`` / ``learn_matrix`` are the same on arrays (items × features, in ``names`` order),
which is what the room uses. Non-finite features or steps are refused and counted, never
learned (the weights stay as they were).

>>> m = ListwiseSoftmax(("taste",), ("power",), lr=0.5)
>>> showcase = [{"taste": 1.0, "power": 0.0}, {"taste": 0.0, "power": 0.0}]
>>> [round(p, 2) for p in m.predict_proba_one(showcase)]
[0.73, 0.27]
>>> m = ListwiseSoftmax(("taste",), ("power",), lr=0.5, initial={"taste": 0.0})
>>> for _ in range(20): m.learn_one(showcase, 0)
>>> m.predict_proba_one(showcase)[0] > 0.8
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np


class ListwiseSoftmax:
    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        l2: float = 0.01,
        initial: Mapping[str, float] | None = None,
        clip: float = 5.0,
    ) -> None:
        self.taste, self.power = tuple(taste), tuple(power)
        self.names = _names(self.taste, self.power)
        self.n_taste = len(self.taste)
        start = initial if initial is not None else {n: 1.0 for n in self.taste}
        # The starting point and which weights learn are the same in every room started
        # alike: shared, read-only arrays (``constant``). A step replaces ``weights``, never
        # writes into it, so a room owns its weights from its first step on.
        self.prior = constant(tuple(float(start.get(n, 0.0)) for n in self.names))
        self.weights = self.prior
        self.learnable = constant((1.0,) * len(self.names))  # 0: a weight held (ablations)
        self.lr, self.l2, self.clip = lr, l2, clip
        self.refused = 0  # non-finite examples or steps, refused
        self.learned = 0  # steps taken

    # -- on arrays: (..., items, features) in ``names`` order --------------------------------
    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Attention (softmax over the items of the taste logits, divided by ``temperature``)
        and propensity (sigmoid of the power logits) of every item, for any leading shape."""
        t = self.n_taste
        taste = x[..., :t] @ (self.weights[:t] / temperature)
        taste -= taste.max(axis=-1, keepdims=True)
        attention = np.exp(taste)
        attention /= attention.sum(axis=-1, keepdims=True)
        propensity = 1.0 / (1.0 + np.exp(-(x[..., t:] @ self.weights[t:])))
        return attention, propensity

    def parts_of_one(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``parts(x)`` of one showcase (items × features) at temperature 1, the step's
        own: the same arithmetic with fewer, 1-D operations (a room takes a step per
        choice). ``tests/models/learners/test_listwise_fast.py`` checks it bit for bit."""
        t, w = self.n_taste, self.weights
        taste = x[:, :t] @ w[:t]
        taste -= np.maximum.reduce(taste)  # ``.max()`` and ``.sum()`` without their wrapping
        attention = np.exp(taste)
        attention /= np.add.reduce(attention)
        return attention, 1.0 / (1.0 + np.exp(-(x[:, t:] @ w[t:])))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(item) for each item of one showcase: attention × propensity, normalised."""
        return _normalised(*self.parts(np.asarray(x, dtype=np.float64)))

    def observe(self, x: np.ndarray, weight: float = 1.0,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """What a step on one choice in showcase ``x`` needs: the probabilities before it
        (test-then-learn), the effective features and their expectation under those, whose
        difference from the chosen row is the gradient of ``log P(chosen)`` (the power
        features enter through log sigmoid, whose slope is 1 − sigmoid). None, and counted
        as refused when not finite, if there is nothing to learn from."""
        if len(x) < 2:
            return None  # no alternative: nothing to learn about a choice
        if not (np.isfinite(x).all() and math.isfinite(weight)):
            self.refused += 1
            return None
        attention, propensity = self.parts_of_one(x)
        score = attention * propensity
        p = score / np.add.reduce(score)  # ``_normalised`` of one showcase
        effective = x.copy()
        effective[:, self.n_taste:] *= (1.0 - propensity)[:, None]
        return p, effective, p @ effective

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        """One step on ``log P(chosen)`` for one showcase ``x`` (items × features); returns
        the probabilities before the step (test-then-learn), None if nothing was learned."""
        x = np.asarray(x, dtype=np.float64)
        seen = self.observe(x, weight)
        if seen is None:
            return None
        p, effective, mean = seen
        grad = effective[chosen] - mean
        grad -= self.l2 * (self.weights - self.prior)
        grad *= self.learnable
        norm = float(np.sqrt(grad @ grad))
        if not np.isfinite(norm):
            self.refused += 1
            return None
        if norm > self.clip:
            grad *= self.clip / norm
        self.weights = self.weights + self.lr * weight * grad
        self.learned += 1
        return p

    def start_from(self, weights: Sequence[float], off: frozenset[str] = frozenset()) -> None:
        """Start (and stay near) ``weights`` instead of the priors; ``off`` features are held
        at zero."""
        prior, learnable = self.prior.tolist(), self.learnable.tolist()
        if weights:
            if len(weights) != len(self.names):
                raise ValueError(f"{len(weights)} weights for {len(self.names)} features")
            prior = [float(w) for w in weights]
        unknown = off - set(self.names)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; features: {self.names}")
        for name in off:
            prior[self.names.index(name)] = 0.0
            learnable[self.names.index(name)] = 0.0
        self.prior, self.learnable = constant(tuple(prior)), constant(tuple(learnable))
        self.weights = self.prior

    # -- River's shape: one showcase as a list of dicts --------------------------------------
    def _matrix(self, showcase: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.array([[float(x.get(n, 0.0)) for n in self.names] for x in showcase])

    def predict_proba_one(self, showcase: Sequence[Mapping[str, float]]) -> list[float]:
        return [float(p) for p in self.probabilities(self._matrix(showcase))]

    def learn_one(self, showcase: Sequence[Mapping[str, float]], chosen: int,
                  weight: float = 1.0) -> None:
        self.learn_matrix(self._matrix(showcase), chosen, weight)


@lru_cache(maxsize=256)
def constant(values: tuple[float, ...]) -> np.ndarray:
    """``values`` as a read-only float64 array, one per distinct tuple: every room of a job
    starts from the same weights, and a per-room copy of them is memory spent on nothing
    (as the Newton learner's starting precision, 2.6 KB). Read-only, so that a write into a
    shared array fails instead of reaching every room. (A few distinct starts per process:
    the cache is bounded only so that a long-lived process fitting many cannot grow it.)

    >>> a = constant((1.0, 0.5))
    >>> a is constant((1.0, 0.5)), a.flags.writeable
    (True, False)
    """
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


@lru_cache(maxsize=256)
def _names(taste: tuple[str, ...], power: tuple[str, ...]) -> tuple[str, ...]:
    return (*taste, *power)


def _normalised(attention: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    score = attention * propensity
    return score / score.sum(axis=-1, keepdims=True)


def listwise_ranker(model: object) -> ListwiseSoftmax | None:
    """The model itself when it is listwise (the fast scorer reads its weights); None for
    another kind (River's pointwise peers, scored through ``parts``)."""
    return model if isinstance(model, ListwiseSoftmax) else None
