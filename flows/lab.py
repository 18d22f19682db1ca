"""``roomrank lab``: the job against its peers on every simulator regime.

For each regime and seed: simulate a world, run the real job over it in file mode (this
process, no broker), and score the pushes with ``models.offline.evaluation`` against the
peers and the world's own oracle (its hidden utility). Then the job again: started from the
weights ``roomrank fit`` fits on another world of the regime (``warm``: yesterday's stream),
with the weights of its own features fitted on the whole world (the hindsight bound,
``models.offline.hindsight``), with River's pointwise ``LogisticRegression`` or
``FMClassifier`` as its choice model (``--learner river``, ``river-fm``), with every feature of
the viewer held at zero (``population``: the ranker that ignores who is watching), and,
asked, without each feature group (ablations). One row per regime, averaged over the seeds;
the held-out regime is only to be read at the end of a piece of model work
(``docs/evaluation.md``).
``--world`` takes the worlds from a user's own generator instead (``flows.lab_worlds``).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import statistics
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from flows.jobs import run_files
from flows.lab_worlds import LabWorld, WorldMaker, world_source
from flows.lifecycle import STOP
from flows.settings import Settings
from models.choice_features import ATTRS, FEATURES, POWER, TASTE
from models.offline.evaluation import (
    HISTORY_BUCKETS,
    ORACLE,
    PUSHED,
    SLICE,
    evaluate,
    load_jsonl,
)
from models.offline.hindsight import fit, fit_stream, replay_rooms
from models.offline.paired import Z95, Outcomes, Paired, paired, pooled
from models.params import RoomParams
from models.sim.attack_outcome import outcome, replay_pushes
from models.sim.attacks import ATTACKS, inject
from models.sim.world import write_events

COLUMNS = (
    "attention", "warm", "hindsight", "river", "river_fm", "control", "population",
    "popularity", "category_count", "spotlight_first", ORACLE,
)  # fmt: skip
# The population-only ranker: the job with every feature of the viewer held at zero (their
# tastes, intents and vectors, and the price against their purchasing power), learning the
# rest (spotlight, appeal, momentum, freshness, price) online like the job: what a room can
# do ignoring who is watching.
POPULATION_OFF = frozenset(TASTE) | {"over_budget", "under_budget"}
# The columns the job is compared with action by action (models.offline.paired): the job's
# other runs, then the peers scored in its own run.
_PAIRED_PEERS = ("popularity", "category_count", "spotlight_first", ORACLE)
PAIRED = ("hindsight", "warm", "river", "river_fm", "population", *_PAIRED_PEERS)
# Ablations: the job with these choice features held at zero (``RoomParams.choice_off``).
_GROUPS = {
    "affinity": ("category_affinity", "segment_affinity", "segment_item"),
    "intent": ("clicked", "carted", "bought"),
    "engagement": ("engaged_item", "engaged_category"),
    "vectors": ("vectors",),
    "appeal": ("item_appeal", "category_appeal", "momentum", "fresh"),
    "spotlight": ("spotlight",),
    "listed": ("listed",),
    "price": ("log_price", "over_budget", "under_budget", "relative_price"),
    "item attrs": ATTRS,
}
ABLATIONS: dict[str, frozenset[str]] = {
    "attention only": frozenset(POWER) - {"bias"},
    "propensity only": frozenset(TASTE),
    **{f"without {group}": frozenset(names) for group, names in _GROUPS.items()},
}


@dataclass(frozen=True, slots=True)
class LabRow:
    regime: str
    seed: int
    hr: dict[str, float]  # column -> HR@k
    by_history: dict[str, dict[str, float]] = field(default_factory=dict)  # bucket -> ranker
    hindsight_weights: dict[str, float] = field(default_factory=dict)
    by_time: dict[str, dict[str, float]] = field(default_factory=dict)  # minute -> ranker
    calibration: list[tuple[float, float, int]] = field(default_factory=list)
    heatmap: dict[str, Any] | None = None
    # attack -> clean and attacked target share and others' HR (models.sim.attacks)
    attacks: dict[str, dict[str, float]] = field(default_factory=dict)
    # column -> the job minus it on the same actions: (diff, se, actions, viewers)
    paired: dict[str, tuple[float, float, int, int]] = field(default_factory=dict)

    @property
    def of_oracle(self) -> float:
        return self.hr["attention"] / self.hr[ORACLE] if self.hr.get(ORACLE) else float("nan")


def run_cell(
    name: str, seed: int, make_world: WorldMaker, k: int, workdir: Path,
    ablations: bool = False, attacks: bool = False,
) -> LabRow:
    """One regime and seed: world, job, evaluation; then the job's hindsight bound, its
    River peers (``--learner river``, ``river-fm``), with ``ablations`` the job without each
    group, and with ``attacks`` the job's rooms under each of ``models.sim.attacks``."""
    world = make_world(name, seed)
    events = workdir / f"{name}-{seed}.jsonl"
    with open(events, "wb") as fh:
        write_events(fh, world.events())
    settings = Settings.load(env={})
    # Another world of the regime ("yesterday"), for the warm start `roomrank fit` gives.
    yesterday = make_world(name, seed + YESTERDAY)
    try:
        warm_weights, _ = fit_stream(_lines(yesterday), settings.room, min_choices=1)
    except ValueError as err:  # its advice names `roomrank fit`'s flags, not the lab's
        raise ValueError(
            f"regime {name!r} seed {seed}: the world is too small for the warm start's fit"
            f" ({str(err).split(':')[0]}); give more --rooms, --viewers or --minutes"
        ) from None

    hits: dict[str, Outcomes] = {}  # column -> the attention arm's hit per action

    def job(column: str, room: Any = None, **overrides: Any) -> dict[str, Any]:
        tag = column.replace(" ", "-")
        run = Settings.load(overrides, env={}) if overrides else settings
        if room is not None:
            run = dataclasses.replace(run, room=room)
        recs, dead = workdir / f"{name}-{seed}-{tag}.recs.jsonl", workdir / f"{name}-{seed}.dead"
        if run_files(run, str(events), str(recs), str(dead)) or STOP.is_set():
            raise KeyboardInterrupt  # a signal stopped the run: its pushes are a part only
        report = evaluate(load_jsonl(events), load_jsonl(recs), k=k,
                          oracle=world.oracle_ranking if column == "attention" else None,
                          time_bin_ms=TIME_BIN_MS, outcomes=True)
        mine = report.outcomes.get("attention", {})
        if column == "attention":
            hits.update((c, mine[c]) for c in _PAIRED_PEERS if c in mine)
        hits[column] = mine.get(PUSHED, {})
        return report.metrics

    metrics = job("attention")
    hr, by_history, by_time = scored(metrics, ("attention", "control"))
    lines = [line for line in events.read_bytes().splitlines() if line.strip()]
    replayed = replay_rooms(lines, settings.room)
    weights = fit(replayed.choices)
    hindsight = dataclasses.replace(settings.room, choice_weights=tuple(weights.tolist()),
                                    propensity_lr=0.0)
    bound = job("hindsight", hindsight)
    hr["hindsight"] = bound["attention"][PUSHED].hr
    _over_time(bound, PUSHED, "hindsight", by_time)
    warm = dataclasses.replace(settings.room, choice_weights=tuple(warm_weights.tolist()))
    started = job("warm", warm)
    hr["warm"] = started["attention"][PUSHED].hr
    _over_time(started, PUSHED, "warm", by_time)
    hr["river"] = job("river", learner="river")["attention"][PUSHED].hr
    hr["river_fm"] = job("river_fm", learner="river-fm")["attention"][PUSHED].hr
    blind = dataclasses.replace(settings.room, choice_off=POPULATION_OFF)
    hr["population"] = job("population", blind)["attention"][PUSHED].hr
    if ablations:
        for label, off in ABLATIONS.items():
            room = dataclasses.replace(settings.room, choice_off=off)
            hr[label] = job(label, room)["attention"][PUSHED].hr
    fitted = dict(zip(FEATURES, weights.tolist(), strict=True))
    against = {c: paired(hits["attention"], v).as_tuple() for c, v in hits.items()
               if c != "attention"}
    return LabRow(name, seed, hr, by_history, fitted, by_time, replayed.calibration(),
                  replayed.heatmap_record(), attacked(world, settings.room) if attacks else {},
                  against)


def attacked(world: LabWorld, params: RoomParams) -> dict[str, dict[str, float]]:
    """Per attack: how often the attacked item reached the other viewers' pushes, and their
    HR@3, on the clean world and under the attack."""
    events = list(world.events())
    clean = replay_pushes(events, params)
    out = {}
    for attack in ATTACKS:
        stream, targets = inject(events, attack, pushes=clean)
        before = outcome(events, clean, targets)
        after = outcome(stream, replay_pushes(stream, params), targets)
        out[attack] = {"clean_share": before.target_share, "share": after.target_share,
                       "clean_hr": before.others_hr, "hr": after.others_hr,
                       "pushes": float(after.pushes)}
    return out


def scored(metrics: dict[str, Any], arms: tuple[str, ...],
           ) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """From ``evaluate``'s metrics: HR@k of the arms' pushes and of every peer, by the
    viewer's history bucket, and over time (pushes as ``job``)."""
    hr = {arm: metrics[arm][PUSHED].hr for arm in arms if arm in metrics}
    for peer in ("popularity", "category_count", "spotlight_first", ORACLE):
        if peer in metrics["ALL"]:
            hr[peer] = metrics["ALL"][peer].hr
    by_history = {
        label: {ranker: m.hr for ranker, m in metrics[f"{SLICE}history={label}"].items()}
        for _, label in HISTORY_BUCKETS
        if f"{SLICE}history={label}" in metrics
    }
    by_time = _over_time(metrics, PUSHED, "job", {})
    for peer in ("popularity", "category_count", ORACLE):
        _over_time(metrics, peer, peer, by_time)
    return hr, by_history, by_time


def evaluate_row(events: str, recs: str, settings: Settings, k: int = 3) -> LabRow:
    """``roomrank evaluate --report``: a user's own pushes as one lab row (no oracle: no
    world behind them). Calibration and the heat-map come from replaying the events through
    the job's rooms with ``settings``: the choice model as a room learns it from these
    events, which is the model that made the pushes only if the settings are the run's."""
    from flows.evaluate_inputs import records

    report = evaluate(records("--events", events), records("--recs", recs), k=k,
                      time_bin_ms=TIME_BIN_MS)
    arms = tuple(name for name in report.metrics if name != "ALL" and SLICE not in name)
    hr, by_history, by_time = scored(report.metrics, arms)
    with open(events, "rb") as fh:
        replayed = replay_rooms([line for line in fh if line.strip()], settings.room)
    return LabRow(Path(events).name, -1, hr, by_history, {}, by_time,
                  replayed.calibration(), replayed.heatmap_record())


TIME_BIN_MS = 180_000
YESTERDAY = 1000  # seed offset of the world the warm start is fitted on


def _lines(world: LabWorld) -> list[bytes]:
    return [orjson.dumps(event) for event in world.events()]


def _over_time(metrics: dict[str, Any], ranker: str, column: str,
               into: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """HR@k of ``ranker`` per time bin (all arms), into ``into[minute][column]``."""
    prefix = f"{SLICE}minute="
    for key, rankers in metrics.items():
        if key.startswith(prefix) and ranker in rankers:
            into.setdefault(key[len(prefix):], {})[column] = rankers[ranker].hr
    return into


def run_lab(
    seeds: tuple[int, ...] = (1, 2, 3),
    rooms: int = 10,
    viewers: int = 400,
    minutes: float = 15.0,
    k: int = 3,
    regimes: tuple[str, ...] = (),
    ablations: bool = False,
    attacks: bool = False,
    world: str = "",
    jobs: int = 1,
) -> list[LabRow]:
    """Every regime (or, with ``world``, every variant of that ``FILE.py:CLASS``) and seed;
    with ``jobs`` > 1, that many cells at a time, each in its own process (the cells share
    nothing, so the rows are the same, in the same order)."""
    make_world, names = world_source(world, rooms, viewers, minutes, regimes)
    cells = [(name, seed) for name in names for seed in seeds]
    with tempfile.TemporaryDirectory(prefix="roomrank-lab-") as tmp:
        if jobs <= 1 or len(cells) <= 1:
            return [run_cell(name, seed, make_world, k, Path(tmp), ablations, attacks)
                    for name, seed in cells]
        # spawn, not fork: a fresh interpreter per worker, whatever threads this one runs
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(jobs, len(cells)), mp_context=context) as pool:
            spec = (world, rooms, viewers, minutes, k, tmp, ablations, attacks)
            return list(pool.map(_cell_in_process, [(*spec, *cell) for cell in cells]))


def _cell_in_process(job: tuple[Any, ...]) -> LabRow:
    """One cell in a worker process: the world maker is rebuilt there from its spec (a
    closure does not cross a process boundary)."""
    world, rooms, viewers, minutes, k, tmp, ablations, attacks, name, seed = job
    make_world, _ = world_source(world, rooms, viewers, minutes, (name,))
    return run_cell(name, seed, make_world, k, Path(tmp), ablations, attacks)


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
    ablated = [label for label in ABLATIONS if all(label in r.hr for r in rows)]
    if ablated:
        lines += _paired_table(rows, ablated, f"Ablations: HR@{k} of the job minus the job with"
                               " these features held at 0 (above 0: they help)")
    lines += _paired_table(rows)
    lines += _history_table(rows, k)
    if any(r.attacks for r in rows):
        lines += ["", "Manipulation (models.sim.attacks): the other viewers' pushes holding the"
                  " attacked item, and their HR@3, clean -> attacked (mean, min-max of seeds)",
                  f"{'regime':<18}{'attack':<12}{'share':>15}{'HR@3':>17}{'HR@3 seeds':>15}"]
        for name in dict.fromkeys(r.regime for r in rows):
            runs = [r.attacks for r in rows if r.regime == name and r.attacks]
            for attack in ATTACKS:
                def mean(key: str, attack: str = attack, runs: list[Any] = runs) -> float:
                    return statistics.fmean(a[attack][key] for a in runs if attack in a)

                hrs = [a[attack]["hr"] for a in runs if attack in a]
                if hrs:
                    lines.append(
                        f"{name:<18}{attack:<12}{mean('clean_share'):>8.2f} ->{mean('share'):>4.2f}"
                        f"{mean('clean_hr'):>9.3f} ->{mean('hr'):>5.3f}"
                        f"{min(hrs):>9.3f}-{max(hrs):.3f}")
    return "\n".join(lines)


def _history_table(rows: list[LabRow], k: int) -> list[str]:
    """HR@k by the viewer's earlier actions, of the pushes and of the world's oracle on the
    same actions: a model flat or falling with history is failing only where the oracle
    rises (in a world where active viewers act deeper in a list, every ranker falls)."""
    buckets = [label for _, label in HISTORY_BUCKETS]
    lines = ["", f"HR@{k} by the viewer's prior actions in the room: the pushes (all arms),"
             " then the oracle on the same actions",
             f"{'regime':<18}" + "".join(f"{b:>9}" for b in buckets) + "   |"
             + "".join(f"{b:>9}" for b in buckets)]
    nan = float("nan")
    for name in dict.fromkeys(r.regime for r in rows):
        mine = [r for r in rows if r.regime == name]
        cells = ["".join(
            f"{statistics.fmean(r.by_history.get(b, {}).get(ranker, nan) for r in mine):>9.3f}"
            for b in buckets) for ranker in (PUSHED, ORACLE)]
        lines.append(f"{name:<18}{cells[0]}   |{cells[1]}")
    return lines


def _paired_table(rows: list[LabRow], wanted: Sequence[str] = PAIRED,
                  title: str = "The job minus each column on the same actions (attention arm)",
                  ) -> list[str]:
    """The job minus each column on the same actions of the attention arm: the mean over the
    seeds ± 1.96 × its viewer-clustered standard error (``models.offline.paired``), and on how
    many seeds the job is behind, beyond noise / at all."""
    columns = [c for c in wanted if any(c in r.paired for r in rows)]
    if not columns:
        return []
    lines = ["", f"{title}: mean over the seeds ± 95 % (viewer-clustered) [seeds behind beyond"
             " noise/behind]",
             f"{'regime':<18}" + "".join(f"{c:>23}" for c in columns)]
    for name in dict.fromkeys(r.regime for r in rows):
        cells = []
        for column in columns:
            runs = [Paired(*r.paired[column]) for r in rows
                    if r.regime == name and column in r.paired]
            both = pooled(runs)
            noise = sum(r.diff < 0 and r.beyond_noise for r in runs)
            behind = sum(r.diff < 0 for r in runs)
            cells.append(f"{both.diff:>+9.3f} ±{Z95 * both.se:.3f} [{noise}/{behind}]")
        lines.append(f"{name:<18}" + "".join(f"{c:>23}" for c in cells))
    return lines


def lab_json(rows: list[LabRow]) -> list[dict[str, Any]]:
    return [
        {"regime": r.regime, "seed": r.seed, "hr": r.hr, "by_history": r.by_history,
         "hindsight_weights": r.hindsight_weights, "by_time": r.by_time,
         "calibration": r.calibration, "heatmap": r.heatmap, "attacks": r.attacks,
         "paired": {c: dict(zip(("diff", "se", "actions", "viewers"), v, strict=True))
                    for c, v in r.paired.items()}}
        for r in rows
    ]


def lab_command(args: argparse.Namespace) -> int:
    """``roomrank lab``'s flags to a table, JSON or report."""

    from flows.evaluate_inputs import check_report_dir
    from flows.experiment_command import seed_list

    seeds = tuple(seed_list(args.seeds, "--seeds"))
    names = tuple(n.strip() for n in args.regimes.split(",") if n.strip())
    if not seeds or args.rooms < 1 or args.viewers < 1 or args.minutes <= 0 or args.jobs < 1:
        raise ValueError("--seeds, --rooms, --viewers, --minutes and --jobs must be positive")
    if args.report:
        check_report_dir("--report", args.report)
    rows = run_lab(seeds, args.rooms, args.viewers, args.minutes, regimes=names,
                   ablations=args.ablations, attacks=args.attacks, world=args.world,
                   jobs=args.jobs)
    if args.report:
        from flows.lab_report import write_report

        print(f"report: {write_report(rows, args.report)}", file=sys.stderr)
    if args.json:
        print(orjson.dumps(lab_json(rows), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_lab(rows))
    return 0
