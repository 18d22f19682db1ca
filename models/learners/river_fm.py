"""River's ``facto.FMClassifier`` as a room's choice model (``--learner river-fm``): a peer.

Issue 12 asks for River's factorization machine on the job's features as a peer of the
listwise model: pointwise like ``PointwiseChoice`` (each choice teaches every item on show, the
chosen one as True), but with a learned interaction between every pair of features
(``⟨v_i, v_j⟩ x_i x_j``), which a linear model lacks: it could learn, say, that the spotlight
matters more to a viewer who has clicked nothing yet.

A room ranks every (viewer, item) pair of a showcase at once, and River answers one dict at a
time, so ``RiverFM.raw`` computes River's own output on arrays from River's own state (the
intercept, ``weights`` and ``latents``), with the usual identity for the pairwise sum:
``Σ_{i<j} ⟨v_i, v_j⟩ x_i x_j = ½ (‖x V‖² − Σ_i x_i² ‖v_i‖²)``. Learning is River's
``learn_one``; ``tests/models/learners/test_river_fm.py`` checks ``raw`` against River's
``predict_proba_one``.

The latent vectors are drawn in the order of ``names`` when the model is built (River draws
one the first time a feature is seen), so a room's model does not depend on which feature it
happened to meet first, and a snapshot (``weights``: the coefficients, the intercept, then the
latent matrix row by row) restores it exactly.

>>> m = PointwiseFM(("taste",), ("power",), lr=0.5, n_factors=2)
>>> x = np.array([[1.0, 0.0], [0.0, 0.0]])
>>> for _ in range(20): _ = m.learn_matrix(x, 0)
>>> attention, propensity = m.parts(x)
>>> attention.tolist(), bool(propensity[0] > propensity[1])
([0.5, 0.5], True)
>>> m.weights.shape  # 2 coefficients, the intercept, 2 × 2 latents
(7,)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from river import facto, optim

from models.learners.river_adapters import Pointwise

N_FACTORS = 10  # River's default
# River's SGD on unscaled features can diverge (hostile prices and attrs did: latents grew
# past 1e150 while finite, and ``raw`` squared them into inf - inf = NaN). A step that leaves
# any coefficient past this is undone and counted, like a non-finite one: the choice features
# are bounded (tens at most), so ``raw`` stays finite.
STATE_LIMIT = 1e6


class RiverFM:
    """``facto.FMClassifier`` over a fixed feature list, starting from linear priors."""

    def __init__(
        self,
        names: Sequence[str],
        lr: float = 0.01,
        n_factors: int = N_FACTORS,
        intercept_lr: float = 0.01,
        initial: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> None:
        self.names = tuple(names)
        self.fm = facto.FMClassifier(
            n_factors=n_factors,
            weight_optimizer=optim.SGD(lr),
            latent_optimizer=optim.SGD(lr),
            intercept_lr=intercept_lr,
            seed=seed,
        )
        for name in self.names:
            self.fm.weights[name] = float((initial or {}).get(name, 0.0))
            self.fm.latents[name]  # draws the vector now, in ``names`` order
        self.refused = 0

    def state(self) -> tuple[np.ndarray, float, np.ndarray]:
        """The coefficients, the intercept and the latent matrix (features × factors)."""
        coef = np.array([self.fm.weights[n] for n in self.names], dtype=np.float64)
        latents = np.array([self.fm.latents[n] for n in self.names], dtype=np.float64)
        return coef, float(self.fm.intercept), latents.reshape(len(self.names), -1)

    def set_state(self, coef: np.ndarray, intercept: float, latents: np.ndarray) -> None:
        for k, name in enumerate(self.names):
            self.fm.weights[name] = float(coef[k])
            self.fm.latents[name] = np.array(latents[k], dtype=np.float64)
        self.fm.intercept = float(intercept)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """River's raw output (before the sigmoid) for every row of ``x`` (any leading shape,
        features last, in ``names`` order)."""
        coef, intercept, v = self.state()
        pairs = 0.5 * (((x @ v) ** 2).sum(axis=-1) - (x**2) @ (v**2).sum(axis=-1))
        return intercept + x @ coef + pairs

    def predict_one(self, x: Mapping[str, float]) -> float:
        return float(self.fm.predict_proba_one(dict(x))[True])

    def learn_values(self, values: Sequence[float], y: bool, w: float = 1.0) -> None:
        if not (math.isfinite(w) and all(map(math.isfinite, values))):
            self.refused += 1
            return
        before = self.state()
        try:  # River squares Python floats, which raises where numpy would give inf
            with np.errstate(over="ignore", invalid="ignore"):  # checked below, and counted
                self.fm.learn_one(dict(zip(self.names, values, strict=True)), y, w=w)
            coef, intercept, latents = self.state()
            bounded = (np.abs(coef).max(initial=0.0) <= STATE_LIMIT
                       and abs(intercept) <= STATE_LIMIT
                       and np.abs(latents).max(initial=0.0) <= STATE_LIMIT)
        except OverflowError:
            bounded = False
        if not bounded:  # undo whatever River changed before it failed or diverged
            self.set_state(*before)
            self.refused += 1


class PointwiseFM(Pointwise):
    """River's ``FMClassifier`` on the choice features, pointwise (``--learner river-fm``);
    the linear part starts from the priors, as the River peer's ``LogisticRegression`` does."""

    model: RiverFM

    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        initial: Mapping[str, float] | None = None,
        n_factors: int = N_FACTORS,
    ) -> None:
        self.taste, self.power = tuple(taste), tuple(power)
        self.names = (*self.taste, *self.power)
        self.model = RiverFM(self.names, lr=lr, n_factors=n_factors, initial=initial)
        self.learned = 0

    @property
    def weights(self) -> np.ndarray:
        coef, intercept, latents = self.model.state()
        return np.concatenate([coef, [intercept], latents.ravel()])

    @weights.setter
    def weights(self, values: np.ndarray) -> None:
        n = len(self.names)
        latents = np.asarray(values[n + 1:]).reshape(n, -1)
        self.model.set_state(values[:n], float(values[n]), latents)

    def parts(self, x: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        propensity = 0.5 * (1.0 + np.tanh(0.5 * self.model.raw(x)))  # the sigmoid, no overflow
        attention = np.full(propensity.shape, 1.0 / max(propensity.shape[-1], 1))
        return attention, propensity
