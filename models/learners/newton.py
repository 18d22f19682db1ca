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

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from models.learners.listwise import ListwiseSoftmax, constant

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

    @property
    def all_free(self) -> bool:
        return bool(self.learnable.all())

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
        fisher = (effective * p[:, None]).T @ effective - np.outer(mean, mean)
        precision = self.precision + weight * fisher
        if self.all_free:
            step = np.linalg.solve(precision, weight * grad)
        else:  # ablated features: left out of the solve, and never moved
            free = self.learnable > 0
            step = np.zeros_like(grad)
            step[free] = np.linalg.solve(precision[np.ix_(free, free)], weight * grad[free])
        norm = float(np.sqrt(step @ step))
        if not (np.isfinite(norm) and np.isfinite(precision).all()):
            self.refused += 1
            return None
        if norm > self.clip:  # a step of more than ``clip`` log-odds is not one choice's worth
            step *= self.clip / norm
        self.precision = precision
        self.weights = self.weights + step
        self.learned += 1
        return p


@lru_cache(maxsize=256)
def _diagonal(diagonal: tuple[float, ...]) -> np.ndarray:
    """The prior's precision matrix, read-only and shared by every room started with the
    same ``diagonal``: a step replaces a room's ``precision``, never writes into it."""
    matrix = np.diag(np.array(diagonal, dtype=np.float64))
    matrix.flags.writeable = False
    return matrix
