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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np


class FittedWorld(NamedTuple):
    simulator: str  # who made the world: the project's simulator, or a FILE.py:CLASS
    world: str  # its regime or variant
    seed: int
    weights: Sequence[float]  # in ``choice_features.FEATURES`` order


def pooled(fits: Iterable[FittedWorld], leave_out: str = "") -> np.ndarray:
    """The mean over simulators of the mean over their world types of the mean over seeds;
    ``leave_out`` names a simulator to leave out (to score the pooled weights on it)."""
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
    per_simulator = [
        np.mean([np.mean(np.asarray(runs, dtype=np.float64), axis=0) for runs in types.values()],
                axis=0)
        for types in nested.values()
    ]
    return np.asarray(np.mean(per_simulator, axis=0))
