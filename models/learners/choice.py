"""Which learners a room learns with: ``fast`` (the default) or ``river`` (``--learner``).

``fast`` runs River's update rules re-written on numpy rows and float lists; ``river`` runs
River's own ``reco.FunkMF`` and ``linear_model.LogisticRegression`` behind the same Protocols
(several times slower, the same results to rounding: ``tests/models/learners/test_contract.py``).
River is imported only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from models.learners.protocols import PropensityLearner, VectorLearner

LEARNERS: Final = ("fast", "river")


def _check(kind: str) -> None:
    if kind not in LEARNERS:
        raise ValueError(f"learner must be one of {', '.join(LEARNERS)}, not {kind!r}")


def vector_learner(
    kind: str,
    n_factors: int,
    lr: float,
    l2: float = 0.0,
    sigma: float = 0.1,
    seed: int = 0,
    clip_gradient: float = 1e12,
) -> VectorLearner:
    """A room's vector learner; both kinds draw the same starting vectors from ``seed``.

    >>> vector_learner("fast", 4, 0.05).n_factors
    4
    """
    _check(kind)
    if kind == "river":
        from models.learners.river_adapters import RiverFunkMF

        return RiverFunkMF(n_factors, lr, l2, sigma, seed, clip_gradient)
    from models.learners.factorization import RowFunkMF

    return RowFunkMF(n_factors, lr, l2, sigma, seed, clip_gradient)


def propensity_learner(
    kind: str,
    names: Sequence[str],
    lr: float,
    l2: float = 0.0,
    initial: Mapping[str, float] | None = None,
) -> PropensityLearner:
    """A room's propensity learner over ``names``, starting from the weights ``initial``."""
    _check(kind)
    if kind == "river":
        from models.learners.river_adapters import RiverLogisticRegression

        return RiverLogisticRegression(names, lr=lr, l2=l2, initial=initial)
    from models.learners.logistic import LogisticRegression

    return LogisticRegression(names, lr=lr, l2=l2, initial=initial)
