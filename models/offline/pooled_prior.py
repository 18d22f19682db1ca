"""Starting weights pooled over many worlds: what a room should believe before its first choice.

A room learns its choice model from a few hundred choices; until then it ranks with its
starting weights, and the Newton learner is pulled toward them (``models.learners.newton``).
Hand-written starting weights encode one person's guess of one world. Weights fitted on a
world (``hindsight.fit_stream``, as ``roomrank fit`` does) say what that world rewards; a
platform the job has not seen is best met with what *many* worlds agree on.

``pooled`` averages fitted weights at three levels: the seeds of a world (a world type, e.g. one
regime or variant), the world types of a simulator, then the simulators, each level weighing
its members the same. So a simulator with many variants does not outvote one with few, and
more seeds of one world make its estimate surer, not heavier. The simulators are the unit of
independence: each is one author's idea of live commerce.

>>> fits = [FittedWorld("ours", "default", 1, (1.0, 0.0)),
...          FittedWorld("ours", "default", 2, (3.0, 0.0)),   # same world type: averaged first
...          FittedWorld("ours", "drifting", 1, (0.0, 0.0)),
...          FittedWorld("theirs", "base", 1, (2.0, 4.0))]
>>> pooled(fits).tolist()   # ours: mean(2, 0) = 1 and 0; theirs: 2 and 4; then (1 + 2) / 2
[1.5, 2.0]
>>> pooled(fits, leave_out="theirs").tolist()   # the weights a test on "theirs" may use
[1.0, 0.0]

``precision`` says how sure a new room may be of each pooled weight: the worlds' disagreement.
Its variance between world types (each the mean of its seeds), less what the seeds' own
scatter explains, is the prior variance of a weight in a world not yet seen; the Newton
learner's prior precision is its inverse, held within ``[FLOOR, CEILING]`` (no weight is
known to better than ±0.2 log-odds per unit, none worse than ±1) so that a weight all the
fitted worlds happened to agree on can still move in a world that differs, and one they
disagree on wildly still starts somewhere.

Worlds' means 2, 0, 2 vary by 4/3 on the first weight, and its seeds 1 and 3 explain 1 of it:

>>> precision(fits).round(6).tolist()
[3.0, 1.0]
>>> precision([FittedWorld("a", w, 1, (0.1 * n, 1.0)) for n, w in enumerate("xyz")]).tolist()
[25.0, 25.0]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

FLOOR = 1.0  # prior sd 1 log-odds per unit of the feature: the least a room starts sure of
CEILING = 25.0  # prior sd 0.2: the most


class FittedWorld(NamedTuple):
    simulator: str  # who made the world: the project's simulator, or a FILE.py:CLASS
    world: str  # its regime or variant
    seed: int
    weights: Sequence[float]  # in ``choice_features.FEATURES`` order


def pooled(fits: Iterable[FittedWorld], leave_out: str = "") -> np.ndarray:
    """The mean over simulators of the mean over their world types of the mean over seeds;
    ``leave_out`` names a simulator to leave out (to score the pooled weights on it)."""
    nested = _nested(fits, leave_out)
    per_simulator = [
        np.mean([np.mean(np.asarray(runs, dtype=np.float64), axis=0) for runs in types.values()],
                axis=0)
        for types in nested.values()
    ]
    return np.asarray(np.mean(per_simulator, axis=0))


def precision(fits: Iterable[FittedWorld], leave_out: str = "") -> np.ndarray:
    """Per weight, 1 / (its variance between world types less the seeds' scatter), held
    within ``[FLOOR, CEILING]``; ``leave_out`` as for ``pooled``."""
    types = [np.asarray(runs, dtype=np.float64)
             for worlds in _nested(fits, leave_out).values() for runs in worlds.values()]
    if len(types) < 2:
        raise ValueError("the disagreement of worlds needs at least two world types")
    means = np.array([runs.mean(axis=0) for runs in types])
    seeded = [runs.var(axis=0, ddof=1) / len(runs) for runs in types if len(runs) > 1]
    scatter = np.mean(seeded, axis=0) if seeded else np.zeros(means.shape[1])
    between = means.var(axis=0, ddof=1) - scatter
    return np.clip(1.0 / np.maximum(between, 1.0 / CEILING), FLOOR, CEILING)


def _nested(fits: Iterable[FittedWorld],
            leave_out: str) -> dict[str, dict[str, list[Sequence[float]]]]:
    """simulator -> world type -> the seeds' weights, one feature table throughout."""
    nested: dict[str, dict[str, list[Sequence[float]]]] = defaultdict(lambda: defaultdict(list))
    for fit in fits:
        if fit.simulator != leave_out:
            nested[fit.simulator][fit.world].append(fit.weights)
    if not nested:
        raise ValueError("no fitted worlds to pool" + (f" without {leave_out!r}" if leave_out
                                                       else ""))
    sizes = {len(w) for types in nested.values() for runs in types.values() for w in runs}
    if len(sizes) != 1:
        raise ValueError(f"fitted weights of different lengths {sorted(sizes)}: one feature"
                         " table per pooling")
    return nested
