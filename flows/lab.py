"""``roomrank evaluate --lab``: the job against its peers on every simulator regime.

For each regime and seed: simulate a world, run the real job over it in file mode (this
process, no broker), and score the pushes with ``models.offline.evaluation`` against the
peers and the world's own oracle (its hidden utility). One row per regime, averaged over the
seeds; the held-out regime is listed apart, as it is only to be read at the end of a piece of
model work (``docs/evaluation.md``).
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.jobs import run_files
from flows.settings import Settings
from models.offline.evaluation import (
    HISTORY_BUCKETS,
    ORACLE,
    PUSHED,
    SLICE,
    evaluate,
    load_jsonl,
)
from models.sim.regimes import REGIMES, regime
from models.sim.world import World, write_events

COLUMNS = ("attention", "control", "popularity", "category_count", "spotlight_first", ORACLE)


@dataclass(frozen=True, slots=True)
class LabRow:
    regime: str
    seed: int
    hr: dict[str, float]  # column -> HR@k
    by_history: dict[str, dict[str, float]] = field(default_factory=dict)  # bucket -> ranker

    @property
    def of_oracle(self) -> float:
        return self.hr["attention"] / self.hr[ORACLE] if self.hr.get(ORACLE) else float("nan")


def run_cell(
    name: str, seed: int, rooms: int, viewers: int, minutes: float, k: int, workdir: Path
) -> LabRow:
    """One regime and seed: world, job, evaluation."""
    world = World(seed, rooms, viewers, minutes, regime=regime(name))
    events = workdir / f"{name}-{seed}.jsonl"
    with open(events, "wb") as fh:
        write_events(fh, world.events())
    recs, dead = workdir / f"{name}-{seed}.recs.jsonl", workdir / f"{name}-{seed}.dead.jsonl"
    run_files(Settings.load(env={}), str(events), str(recs), str(dead))
    report = evaluate(load_jsonl(events), load_jsonl(recs), k=k, oracle=world.oracle_ranking)
    metrics = report.metrics
    hr: dict[str, float] = {}
    for arm in ("attention", "control"):
        if arm in metrics:
            hr[arm] = metrics[arm][PUSHED].hr
    for peer in ("popularity", "category_count", "spotlight_first", ORACLE):
        hr[peer] = metrics["ALL"][peer].hr
    by_history = {
        label: {ranker: m.hr for ranker, m in metrics[f"{SLICE}history={label}"].items()}
        for _, label in HISTORY_BUCKETS
        if f"{SLICE}history={label}" in metrics
    }
    return LabRow(name, seed, hr, by_history)


def run_lab(
    seeds: tuple[int, ...] = (1, 2, 3),
    rooms: int = 10,
    viewers: int = 400,
    minutes: float = 15.0,
    k: int = 3,
    regimes: tuple[str, ...] = tuple(REGIMES),
) -> list[LabRow]:
    with tempfile.TemporaryDirectory(prefix="roomrank-lab-") as tmp:
        return [
            run_cell(name, seed, rooms, viewers, minutes, k, Path(tmp))
            for name in regimes
            for seed in seeds
        ]


def format_lab(rows: list[LabRow], k: int = 3) -> str:
    """Mean HR@k per regime over its seeds; the last column is attention / oracle."""
    head = f"{'regime':<18}{'seeds':>6}" + "".join(f"{c:>17}" for c in COLUMNS) + f"{'/oracle':>9}"
    lines = [f"HR@{k}", head]
    for name in dict.fromkeys(r.regime for r in rows):
        mine = [r for r in rows if r.regime == name]
        cells = "".join(
            f"{statistics.fmean(r.hr.get(c, float('nan')) for r in mine):>17.3f}" for c in COLUMNS
        )
        ratio = statistics.fmean(r.of_oracle for r in mine)
        lines.append(f"{name:<18}{len(mine):>6}{cells}{ratio:>9.2f}")
    return "\n".join(lines)


def lab_json(rows: list[LabRow]) -> list[dict[str, Any]]:
    return [
        {"regime": r.regime, "seed": r.seed, "hr": r.hr, "by_history": r.by_history} for r in rows
    ]
