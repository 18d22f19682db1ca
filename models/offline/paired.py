"""How far apart two rankers are on the same actions, and how much of that is chance.

A lab world has a few thousand scored actions, so its HR@3 moves by about 0.01 from one seed
to the next on chance alone, and "the job behind a peer on this seed by 0.01" says little
without its error. Two rankers scored on the *same* actions differ far less by chance than
two independent HR@3s do (most actions are hit or missed by both), so the difference is
taken action by action. The actions of one viewer are not independent (a viewer who likes
one category acts on it again), so the standard error is clustered by viewer: the sum of a
viewer's differences is one draw, which is wider than treating actions as independent
whenever viewers repeat themselves.

An outcome is ``(viewer, hit)`` per action id, as ``evaluate(..., outcomes=True)`` records
them; only actions both rankers were scored on are compared.

>>> a = {"1": ("u", 1.0), "2": ("u", 1.0), "3": ("v", 0.0), "4": ("w", 1.0)}
>>> b = {"1": ("u", 1.0), "2": ("u", 0.0), "3": ("v", 0.0), "4": ("w", 0.0), "5": ("w", 1.0)}
>>> d = paired(a, b)
>>> d.n, d.viewers, d.diff
(4, 3, 0.5)
>>> round(d.se, 3), d.beyond_noise
(0.217, True)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Outcomes = Mapping[str, tuple[str, float]]  # action id -> (viewer, 1.0 hit / 0.0 miss)
Z95 = 1.96


@dataclass(frozen=True, slots=True)
class Paired:
    """``diff``: the mean of (a's hit − b's hit) over ``n`` shared actions of ``viewers``
    viewers; ``se``: its viewer-clustered standard error (NaN with fewer than two viewers)."""

    diff: float
    se: float
    n: int
    viewers: int

    @property
    def beyond_noise(self) -> bool:
        """The 95 % interval excludes 0."""
        return abs(self.diff) > Z95 * self.se

    def as_tuple(self) -> tuple[float, float, int, int]:
        return (self.diff, self.se, self.n, self.viewers)


def paired(a: Outcomes, b: Outcomes) -> Paired:
    """a − b on the actions both were scored on."""
    per_viewer: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # [sum d, actions]
    for action, (viewer, hit) in a.items():
        other = b.get(action)
        if other is None:
            continue
        sums = per_viewer[viewer]
        sums[0] += hit - other[1]
        sums[1] += 1.0
    n = int(sum(s[1] for s in per_viewer.values()))
    if n == 0:
        return Paired(math.nan, math.nan, 0, 0)
    diff = sum(s[0] for s in per_viewer.values()) / n
    g = len(per_viewer)
    if g < 2:
        return Paired(diff, math.nan, n, g)
    # the cluster-robust (sandwich) variance of a mean, with the small-sample factor g/(g−1)
    spread = sum((d - k * diff) ** 2 for d, k in per_viewer.values())
    return Paired(diff, math.sqrt(spread * g / (g - 1)) / n, n, g)


def compared(first: Mapping[str, Mapping[str, Outcomes]],
             second: Mapping[str, Mapping[str, Outcomes]],
             ranker: str = "pushed") -> dict[str, Paired]:
    """Per arm both sets of outcomes (``EvaluationReport.outcomes``) hold: ``ranker``'s hits
    in the first minus those in the second, on the actions both scored."""
    return {arm: paired(first[arm][ranker], second[arm][ranker])
            for arm in first if arm in second
            and ranker in first[arm] and ranker in second[arm]}


def pooled(runs: Sequence[Paired]) -> Paired:
    """The mean difference over independent runs (seeds), each weighing the same, as the
    lab's mean HR@3 does; its standard error from theirs."""
    usable = [r for r in runs if r.n]
    if not usable:
        return Paired(math.nan, math.nan, 0, 0)
    s = len(usable)
    diff = sum(r.diff for r in usable) / s
    se = math.sqrt(sum(r.se**2 for r in usable)) / s
    return Paired(diff, se, sum(r.n for r in usable), sum(r.viewers for r in usable))
