"""Which learners a room learns with: ``fast`` (the default), ``river`` or ``river-fm``
(``--learner``).

``fast``: River's ``FunkMF`` update rule re-written on numpy rows for the vectors, and the
listwise choice model (``listwise``). ``river``: River's own ``reco.FunkMF`` (the same vectors
to rounding: ``tests/models/learners/test_contract.py``) and River's
``linear_model.LogisticRegression`` on the same choice features, pointwise: the River peer the
lab scores the listwise model against. ``river-fm``: the same, with River's
``facto.FMClassifier`` (pairwise feature interactions) as the choice model. River is imported
only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from models.learners.protocols import ChoiceLearner, VectorLearner

LEARNERS: Final = ("fast", "river", "river-fm")


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
    max_norm: float = 0.0,
) -> VectorLearner:
    """A room's vector learner; both kinds draw the same starting vectors from ``seed`` and
    keep their rows within ``max_norm`` (0: no bound; ``factorization.stable_norm``).

    >>> vector_learner("fast", 4, 0.05).n_factors
    4
    """
    _check(kind)
    if kind != "fast":
        from models.learners.river_adapters import RiverFunkMF

        return RiverFunkMF(n_factors, lr, l2, sigma, seed, clip_gradient, max_norm=max_norm)
    from models.learners.factorization import RowFunkMF

    return RowFunkMF(n_factors, lr, l2, sigma, seed, clip_gradient, max_norm)


def choice_learner(
    kind: str,
    taste: Sequence[str],
    power: Sequence[str],
    lr: float,
    initial: Mapping[str, float] | None = None,
    prior_precision: float | Mapping[str, float] = 0.0,
    top: int = 3,
) -> ChoiceLearner:
    """A room's choice model: the listwise softmax (``fast``) with Newton steps under a
    Gaussian prior of ``prior_precision`` around ``initial`` (one for every weight, or one per
    feature name), judged by the room's established viewers on their choices in its ``top``
    (``models.learners.judged``), or
    with small SGD steps when it is 0; or River's ``LogisticRegression``
    on the same features, pointwise (``river``: the River peer), or its ``FMClassifier``
    (``river-fm``)."""
    _check(kind)
    if kind == "river-fm":
        from models.learners.river_fm import PointwiseFM

        return PointwiseFM(taste, power, lr=lr, initial=initial)
    if kind == "river":
        from models.learners.river_adapters import PointwiseChoice

        return PointwiseChoice(taste, power, lr=lr, initial=initial)
    if isinstance(prior_precision, Mapping) or prior_precision > 0:
        from models.learners.judged import JudgedNewton

        return JudgedNewton(taste, power, lr=lr, initial=initial,
                            prior_precision=prior_precision, top=top)
    from models.learners.listwise import ListwiseSoftmax

    return ListwiseSoftmax(taste, power, lr=lr, initial=initial)
