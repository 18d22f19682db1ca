"""PROTOTYPE (atk-proto): defences of the room's choice learner against fresh accounts.

``ATK_DEFENCE`` picks one when a room is made (measurement only, not a setting):

* ``none``: as main.
* ``budget``: fresh viewers' choices (no standing in the room) teach at most as much, in
  total, as the established viewers' choices have taught.
* ``settled-only``: only established viewers' choices teach.
* ``judged-ll`` / ``judged-hits``: two learners, one on every choice, one on the established
  viewers' only; the room ranks with the one that predicted the established viewers' choices
  better so far (log-likelihood / top-3 hits), the first on ties.
* ``robust``: a choice teaches with weight min(1, N × P(chosen)): a choice the model finds
  less likely than chance counts less (bounded influence, density-power style, γ = 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from models.learners.newton import PRIOR_PRECISION, NewtonSoftmax

TOP = 3
COUNTS = [0, 0]  # fresh, settled choices seen in this process (diagnostics)


class StandingNewton(NewtonSoftmax):
    def __init__(
        self,
        taste: Sequence[str],
        power: Sequence[str],
        lr: float = 0.05,
        initial: Mapping[str, float] | None = None,
        clip: float = 5.0,
        prior_precision: float | Mapping[str, float] = PRIOR_PRECISION,
        mode: str | None = None,
    ) -> None:
        super().__init__(taste, power, lr=lr, initial=initial, clip=clip,
                         prior_precision=prior_precision)
        self.mode = mode if mode is not None else os.environ.get("ATK_DEFENCE", "none")
        self.settled_mass = 0.0
        self.fresh_mass = 0.0
        self.fresh_seen = 0.0
        self.score = 0.0  # judged: evidence for the all-choices learner over the settled one
        self.experts: list[NewtonSoftmax] = []
        if self.mode.startswith("judged"):
            self.experts = [NewtonSoftmax(taste, power, lr=lr, initial=initial, clip=clip,
                                          prior_precision=prior_precision) for _ in range(2)]

    def start_from(self, weights: Sequence[float], off: frozenset[str] = frozenset()) -> None:
        super().start_from(weights, off)
        for expert in self.experts:
            expert.start_from(weights, off)

    def learn_matrix(self, x: np.ndarray, chosen: int, weight: float = 1.0) -> np.ndarray | None:
        return self.learn_standing(x, chosen, weight, True)

    def learn_standing(self, x: np.ndarray, chosen: int, weight: float, settled: bool,
                       ) -> np.ndarray | None:
        mode = self.mode
        COUNTS[settled] += 1
        if mode == "none":
            return super().learn_matrix(x, chosen, weight)
        if mode == "settled-only":
            if settled:
                return super().learn_matrix(x, chosen, weight)
            return super().learn_matrix(x, chosen, 0.0)
        if mode == "budget":
            if settled:
                self.settled_mass += weight
            else:
                self.fresh_seen += weight
                weight = min(weight, max(0.0, self.settled_mass - self.fresh_mass))
                self.fresh_mass += weight
            return super().learn_matrix(x, chosen, weight)
        if mode == "robust":
            x = np.asarray(x, dtype=np.float64)
            if len(x) >= 2 and np.isfinite(x).all():
                p = self.probabilities(x)
                weight *= float(min(1.0, len(x) * p[chosen]))
            return super().learn_matrix(x, chosen, weight)
        if mode.startswith("judged"):
            return self._judged(np.asarray(x, dtype=np.float64), chosen, weight, settled)
        raise ValueError(f"unknown ATK_DEFENCE {mode!r}")

    def _judged(self, x: np.ndarray, chosen: int, weight: float, settled: bool,
                ) -> np.ndarray | None:
        every, established = self.experts
        if settled and len(x) >= 2 and np.isfinite(x).all():
            pa, pb = every.probabilities(x), established.probabilities(x)
            if self.mode == "judged-ll":
                self.score += float(np.log(max(pa[chosen], 1e-12))
                                    - np.log(max(pb[chosen], 1e-12)))
            else:
                hit_a = chosen in np.argsort(-pa, kind="stable")[:TOP]
                hit_b = chosen in np.argsort(-pb, kind="stable")[:TOP]
                self.score += float(hit_a) - float(hit_b)
        p = self.probabilities(x) if len(x) >= 2 and np.isfinite(x).all() else None
        every.learn_matrix(x, chosen, weight)
        established.learn_matrix(x, chosen, weight if settled else 0.0)
        leader = every if self.score >= 0 else established
        self.weights = leader.weights.copy()
        self.precision = leader.precision.copy()
        self.learned += 1
        return p
