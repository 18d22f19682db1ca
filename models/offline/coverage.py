"""Do the readout's 95 % intervals cover the truth in the closed loop? Does an A/A test stay
quiet? Measured over many seeds, since one run cannot say.

The closed loop sets no conversion rate per arm: a push converts through the audience's
choices. The truth is therefore the rate of the world-generating process, estimated by
pooling converted / pushes over every run made for the measurement (the runs read plus the
``truth_seeds``). Each seed is a different world, so a run's interval must cover that
process's rate with its own data alone. Both the readout's intervals (rooms as clusters)
and the intervals of independent pushes are scored, so the effect of the clustering is seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.experiment.readout import Readout, read_experiment
from models.params import RoomParams
from models.sim.closed_loop import ClosedLoopRun, run_closed_loop

DRAWS = 20_000


@dataclass(frozen=True, slots=True)
class ArmCoverage:
    arm: str
    truth: float  # pooled converted / pushes over every run
    covered: int  # runs whose readout interval holds the truth
    covered_independent: int  # the same with pushes taken as independent
    mean_design_effect: float


@dataclass(slots=True)
class Coverage:
    runs: int
    arms: list[ArmCoverage] = field(default_factory=list)
    winners: int = 0  # runs whose readout declared a winner
    cut_runs: int = 0  # runs in which some room's allocation cut an arm

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "winners": self.winners, "cut_runs": self.cut_runs,
                "arms": [asdict(a) for a in self.arms]}

    def format_table(self) -> str:
        lines = [f"{'arm':<16}{'truth':>8}{'covered':>10}{'independent':>13}{'design eff.':>13}"]
        lines += [f"{a.arm:<16}{a.truth:>8.4f}{f'{a.covered}/{self.runs}':>10}"
                  f"{f'{a.covered_independent}/{self.runs}':>13}{a.mean_design_effect:>13.2f}"
                  for a in self.arms]
        lines.append(f"winners declared: {self.winners}/{self.runs};"
                     f" runs with a stop-loss cut: {self.cut_runs}/{self.runs}")
        return "\n".join(lines)


def readout_of(run: ClosedLoopRun) -> Readout:
    return read_experiment(run.events, run.pushes, run.experiment_log(), seed=run.seed)


def coverage(read: Sequence[Readout], others: Iterable[Readout] = (), cut_runs: int = 0,
             ) -> Coverage:
    """Score ``read``'s intervals against the rate pooled over ``read`` and ``others``."""
    pooled = list(read) + list(others)
    out = Coverage(len(read), winners=sum(r.winner is not None for r in read),
                   cut_runs=cut_runs)
    for arm in sorted({name for r in read for name in r.arms}):
        rows = [r.arms[arm] for r in pooled if arm in r.arms]
        truth = sum(a.converted for a in rows) / max(1, sum(a.pushes for a in rows))
        mine = [r.arms[arm] for r in read if arm in r.arms]
        independent = 0
        for n, a in enumerate(mine):
            draws = np.random.default_rng(n).beta(1 + a.converted, 1 + a.pushes - a.converted,
                                                  DRAWS)
            low, high = np.percentile(draws, [2.5, 97.5])
            independent += bool(low <= truth <= high)
        out.arms.append(ArmCoverage(
            arm, round(truth, 6), sum(a.low <= truth <= a.high for a in mine), independent,
            round(float(np.mean([a.design_effect for a in mine])), 3)))
    return out


def closed_loop_coverage(params: RoomParams, seeds: Sequence[int], truth_seeds: Sequence[int],
                         rooms: int, viewers: int, minutes: float) -> Coverage:
    """Run the closed loop for every seed; read ``seeds``' runs against the pooled truth."""
    read, cuts = [], 0
    for seed in seeds:
        run = run_closed_loop(params, seed, rooms, viewers, minutes)
        cuts += run.cut_rooms > 0
        read.append(readout_of(run))
    others = (readout_of(run_closed_loop(params, s, rooms, viewers, minutes))
              for s in truth_seeds)
    return coverage(read, others, cuts)
