"""The listwise choice model with Newton steps under a Gaussian prior: it learns fast where
the room's evidence is consistent.

``ListwiseSoftmax`` steps by ``lr × gradient``: a small, constant step that keeps a room near
its starting weights. That is right where the starting weights are about right, and slow
where they are far off: a world where the spotlight takes a third of the choices needs its
weight several units above the prior, a few hundred choices of 0.05-steps never get there.
``NewtonSoftmax`` treats the starting weights as the mean of a Gaussian prior of precision
``prior_precision`` (λ; 1/λ is the prior variance of each weight, in log-odds per unit of its
feature) and takes the online Newton (Laplace) step of the posterior: it keeps the evidence
so far as a precision matrix ``A = λ I + Σ w F``, ``F`` being each choice's Fisher information
(the covariance of the features under the model's own probabilities over the showcase), and
steps by ``A⁻¹ g``. A direction the room has told little about moves by up to ``g / λ``; one
it has told much about barely moves; steps shrink as evidence accumulates, like a running
mean. Ablated features (``learnable`` 0) are left out of the solve.

λ may differ per weight (a mapping by feature name): how far a weight is from its start in
a new room is how much worlds disagree about it, so the room's default precisions are
``1 / the variance of each weight between fitted worlds`` (``choice_features.PRECISION``):
a weight every world agrees on (the price slope) stays, one they disagree on (the
spotlight's) moves after a few choices.

``A`` is the learner's state (features², 2.6 KB for 18), stored in a room's snapshot.

>>> import numpy as np
>>> sgd = ListwiseSoftmax(("taste",), ("power",), lr=0.05, initial={"taste": 0.0})
>>> newton = NewtonSoftmax(("taste",), ("power",), lr=0.05, initial={"taste": 0.0})
>>> showcase = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
>>> for _ in range(20): _ = sgd.learn_matrix(showcase, 0); _ = newton.learn_matrix(showcase, 0)
>>> bool(newton.probabilities(showcase)[0] > 0.7 > 0.5 > sgd.probabilities(showcase)[0])
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from models.learners.listwise import ListwiseSoftmax, constant

try:  # the gufunc behind ``np.linalg.solve``; private, so a numpy without it falls back
    from numpy.linalg import _umath_linalg

    _SOLVE1: Callable[..., Any] | None = _umath_linalg.solve1
except (ImportError, AttributeError):  # pragma: no cover - numpy's layout moved
    _SOLVE1 = None

PRIOR_PRECISION = 3.0  # prior sd ≈ 0.58 log-odds per unit: starting weights good to ~×1.8


class NewtonSoftmax(ListwiseSoftmax):
    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        initial: Mapping[str, float] | None = None,
        clip: float = 5.0,
        prior_precision: float | Mapping[str, float] = PRIOR_PRECISION,
    ) -> None:
        super().__init__(taste, power, lr=lr, l2=0.0, initial=initial, clip=clip)
        if isinstance(prior_precision, Mapping):
            missing = [n for n in self.names if n not in prior_precision]
            if missing:
                raise ValueError(f"prior precision missing for {', '.join(missing)}")
            diagonal = np.array([float(prior_precision[n]) for n in self.names])
        else:
            diagonal = np.full(len(self.names), float(prior_precision))
        if not (diagonal > 0).all():  # NaN too
            raise ValueError(f"prior precision must be > 0, not {prior_precision}")
        self.prior_precision = constant(tuple(diagonal.tolist()))
        self.precision = _diagonal(tuple(diagonal.tolist()))  # shared until the first step
        self._free_of: np.ndarray | None = None  # the ``learnable`` that ``_all_free`` is of
        self._all_free = True

    @property
    def all_free(self) -> bool:
        learnable = self.learnable  # shared and read-only (``constant``): known by identity
        if learnable is not self._free_of:
            self._free_of, self._all_free = learnable, bool(learnable.all())
        return self._all_free

    def start_from(self, weights: Sequence[float], off: frozenset[str] = frozenset()) -> None:
        super().start_from(weights, off)
        self.precision = _diagonal(tuple(self.prior_precision.tolist()))

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        """One Newton step on ``log P(chosen)``; ``lr`` 0 freezes the model (as it freezes
        ``ListwiseSoftmax``: the hindsight bound runs so), any other ``lr`` is not used."""
        seen = self.observe(np.asarray(x, dtype=np.float64), weight)
        if seen is None:
            return None
        p, effective, mean = seen
        if self.lr == 0:
            return p
        grad = effective[chosen] - mean
        fisher = (effective * p[:, None]).T @ effective
        fisher -= mean[:, None] * mean  # the outer product of the mean
        if weight != 1.0:
            fisher *= weight
        precision = self.precision + fisher
        # Checked before the solve: a finite λ I + Σ w F is positive definite, so ``solve``
        # meets no singular matrix (one, by rounding, would give a NaN step: refused below).
        if not np.isfinite(precision).all():
            self.refused += 1
            return None
        if self.all_free:
            step = solve(precision, weight * grad)
        else:  # ablated features: left out of the solve, and never moved
            free = self.learnable > 0
            step = np.zeros_like(grad)
            step[free] = solve(precision[np.ix_(free, free)], weight * grad[free])
        norm = math.sqrt(float(step @ step))
        if not math.isfinite(norm):
            self.refused += 1
            return None
        if norm > self.clip:  # a step of more than ``clip`` log-odds is not one choice's worth
            step *= self.clip / norm
        self.precision = precision
        self.weights = self.weights + step
        self.learned += 1
        return p


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for one float64 matrix and vector: the very LAPACK routine
    it calls, without its per-call checks and error state, which cost as much as an 18 × 18
    solve itself. For finite, non-singular ``a`` only (a singular one gives NaN, not an
    error); ``tests/models/learners/test_newton.py`` checks it equals ``np.linalg.solve``
    bit for bit.

    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([1.0, 1.0])).tolist()
    [0.5, 0.25]
    """
    return _SOLVE1(a, b, signature="dd->d") if _SOLVE1 is not None else np.linalg.solve(a, b)


@lru_cache(maxsize=256)
def _diagonal(diagonal: tuple[float, ...]) -> np.ndarray:
    """The prior's precision matrix, read-only and shared by every room started with the
    same ``diagonal``: a step replaces a room's ``precision``, never writes into it."""
    matrix = np.diag(np.array(diagonal, dtype=np.float64))
    matrix.flags.writeable = False
    return matrix
