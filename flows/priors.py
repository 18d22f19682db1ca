"""``roomrank priors``: the choice model's starting weights, fitted on many worlds and pooled.

``PRIORS`` (``models.choice_features``) is where every room of every platform starts: the
``POOLED`` weights, but for the four of ``ALREADY_IN_VIEW``. This command is how ``POOLED`` is
made, so it can be made again (a new feature, a new simulator): it builds worlds of the
project's simulator (every tuning regime; never ``held-out``, which is scored only at the end
of model work) and of each ``--world FILE.py:CLASS`` (every variant), at each of ``--seeds``
(by default 1001-1006, seeds the lab does not score), fits the job's choice model on each
(``roomrank fit``'s fit: the job's own rooms replayed, every choice learned in sample) and
pools them, each simulator weighing the same (``models.offline.pooled_prior``). It prints each
world's fit, the pooled weights as the ``POOLED`` literal, the worlds' disagreement on each
as the ``PRECISION`` literal (how firmly a room holds each weight), and the pooled weights
with each simulator left out: the weights a measurement on that simulator may use
(docs/evaluation.md, "Priors learned from four simulators"). ``--output`` also writes the
pooled weights, all 18, as a ``--choice-weights`` file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import IO, Any

import orjson

from flows.lab_worlds import world_source
from flows.settings import Settings
from models import choice_weights
from models.choice_features import ALREADY_IN_VIEW, FEATURES, PRIORS
from models.offline.hindsight import fit_stream
from models.offline.pooled_prior import FittedWorld, pooled, precision
from models.sim.regimes import TUNING_REGIMES

SIMULATOR = "simulator"  # the project's own, in the output's "simulator" column
# Every fit starts from no opinion (all weights 0), not from ``PRIORS``: a weight the worlds
# say little about would otherwise keep today's value, and the command would not give the
# same literal twice in a row.
NO_OPINION: dict[str, float] = {}


def _fit(cell: tuple[str, str, int, int, int, float]) -> FittedWorld:
    """One world, built and fitted (in a worker process when ``--jobs`` > 1)."""
    spec, name, seed, rooms, viewers, minutes = cell
    make, _ = world_source("" if spec == SIMULATOR else spec, rooms, viewers, minutes, (name,))
    lines = [orjson.dumps(event) for event in make(name, seed).events()]
    try:
        weights, _ = fit_stream(lines, Settings.load(env={}).room, min_choices=1,
                                start=NO_OPINION)
    except ValueError as err:  # a world with no choice to fit: say which, and what to change
        raise ValueError(f"{spec} {name} seed {seed}: {err.args[0].split(':')[0]}; give the"
                         " worlds more --viewers or --minutes") from None
    return FittedWorld(spec, name, seed, tuple(weights.tolist()))


def fitted_worlds(worlds: tuple[str, ...], seeds: tuple[int, ...], rooms: int, viewers: int,
                  minutes: float, jobs: int = 1) -> list[FittedWorld]:
    """Every variant of every world source (the simulator's tuning regimes for
    ``SIMULATOR``) at every seed, fitted; the same list whatever ``jobs``."""
    cells = []
    for spec in worlds:
        names = TUNING_REGIMES if spec == SIMULATOR else world_source(spec, 1, 1, 1.0)[1]
        cells += [(spec, name, seed, rooms, viewers, minutes) for name in names for seed in seeds]
    if jobs <= 1 or len(cells) <= 1:
        return [_fit(cell) for cell in cells]
    with ProcessPoolExecutor(min(jobs, len(cells)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_fit, cells))


def format_priors(fits: list[FittedWorld], out: IO[str]) -> dict[str, float]:
    """The table, the pooled weights and the ``POOLED`` literal; returns the pooled."""
    simulators = list(dict.fromkeys(f.simulator for f in fits))
    short = {s: s.rpartition(":")[2] or s for s in simulators}
    print(f"{'world':<32}" + "".join(f"{n[:10]:>11}" for n in FEATURES), file=out)
    print(f"{'today (PRIORS)':<32}" + "".join(f"{PRIORS.get(n, 0.0):>11.2f}" for n in FEATURES),
          file=out)
    for sim in simulators:
        for name in dict.fromkeys(f.world for f in fits if f.simulator == sim):
            mean = pooled(f for f in fits if f.simulator == sim and f.world == name)
            label = f"{short[sim]} {name}"
            print(f"{label:<32}" + "".join(f"{w:>11.2f}" for w in mean), file=out)
    mean = pooled(fits)
    print(f"{'pooled':<32}" + "".join(f"{w:>11.2f}" for w in mean), file=out)
    if len(simulators) > 1:
        for sim in simulators:
            left = pooled(fits, leave_out=sim)
            print(f"{'without ' + short[sim]:<32}" + "".join(f"{w:>11.2f}" for w in left),
                  file=out)
    rounded = {n: round(float(w), 2) for n, w in zip(FEATURES, mean, strict=True)}
    print("\nPOOLED: Final = {", file=out)
    for name, value in rounded.items():
        if value != 0.0:
            print(f'    "{name}": {value},', file=out)
    print("}", file=out)
    print(f"(PRIORS: POOLED but for {', '.join(ALREADY_IN_VIEW)}, kept for what a push sells:"
          " models/choice_features.py)", file=out)
    if len({(f.simulator, f.world) for f in fits}) > 1:
        print("\nPRECISION: Final = {", file=out)
        for name, value in zip(FEATURES, precision(fits), strict=True):
            print(f'    "{name}": {round(float(value), 2)},', file=out)
        print("}", file=out)
    return rounded


def priors_command(args: argparse.Namespace) -> int:
    from flows.experiment_command import seed_list

    seeds = tuple(seed_list(args.seeds, "--seeds"))
    if not seeds or args.rooms < 1 or args.viewers < 1 or args.minutes <= 0 or args.jobs < 1:
        raise ValueError("--seeds, --rooms, --viewers, --minutes and --jobs must be positive")
    worlds = (SIMULATOR, *dict.fromkeys(args.world))
    for spec in worlds[1:]:
        world_source(spec, 1, 1, 1.0)  # one line on a wrong --world, before any work
    fits = fitted_worlds(worlds, seeds, args.rooms, args.viewers, args.minutes, args.jobs)
    rounded = format_priors(fits, sys.stdout)
    if args.output:
        meta: dict[str, Any] = {"pooled_over": list(worlds), "seeds": list(seeds),
                                "worlds": len(fits), "rooms": args.rooms,
                                "viewers": args.viewers, "minutes": args.minutes}
        data = choice_weights.dumps([rounded[n] for n in FEATURES], meta)
        choice_weights.loads(data)
        with open(args.output, "wb") as fh:
            fh.write(data)
        print(f"written: {args.output} (for --choice-weights)", file=sys.stderr)
    return 0
