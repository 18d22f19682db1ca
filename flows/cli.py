"""``roomrank``: the job's command line (simulate, run, demo, evaluate, lab, fit,
priors, bench)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flows.arg_types import finite_float, world_minutes
from flows.experiment_command import (
    KAFKA_SETTINGS,
    add_coverage_arguments,
    add_report_arguments,
)
from flows.preflight import why_not_a_file
from flows.settings import IO_GROUP, Settings, add_arguments

DEMO_SETTINGS = (
    "top_k",
    "arms",
    "experiment",
    "presence_timeout_ms",
    "lateness_ms",
    "window_ms",
    "dim",
    "metrics_port",
    "log_level",
)


# What ``roomrank fit``'s replayed rooms read to build their features.
FIT_SETTINGS = (
    "top_k", "dim", "learning_rate", "presence_timeout_ms", "forget_after_ms", "lateness_ms",
    "max_ahead_ms", "window_ms", "bucket_ms", "conversion_window_ms",
)  # fmt: skip


CLOSED_LOOP_SETTINGS = (
    "top_k",
    "arms",
    "experiment",
    "presence_timeout_ms",
    "lateness_ms",
    "window_ms",
    "dim",
    "allocation",
    "allocation_min_pushes",
    "allocation_stop_loss",
)


LAYOUT = """\
where things are (README, Architecture):
  flows/              the job: dataflow, run, settings, metrics, lifecycle, this CLI; lab, fit
  flows/connectors/   files, Kafka, the paced simulator source, the terminal sink
  flows/bench/        the benchmark (roomrank bench only)
  models/             the room, the choice model, push building, arms; models/learners/
  models/sim/         the simulated world; models/offline/: evaluation, replay
  features/contract/  events, decoding, validation, messages; features/state/: rows, windows
"""


# How long `bench --brokers` waits for the broker before any measuring (tests shorten it).
BENCH_BROKER_PROBE_S = 30.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roomrank",
        description="Real-time product recommendations for live-commerce rooms.",
        epilog=LAYOUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser(
        "simulate", help="write a simulated live-commerce world as JSONL, or play it into Kafka",
        description="Write a simulated world as JSONL (--output), or play it into the job's "
        "input topic (--brokers, --input-topic): as fast as the broker takes it, or paced "
        "with --speed. Played worlds start at the current wall time.",
    )
    _world_args(sim, rooms=50, viewers=2000, minutes=30.0)
    sim.add_argument(
        "--regime",
        default="default",
        help="simulator mechanism: default, item-taste, category-taste, hidden-budget,"
        " taste-engagement, drifting-taste, held-out (docs/evaluation.md)",
    )
    sim.add_argument("--output", help="JSONL file, or - for stdout")
    sim.add_argument(
        "--speed", type=finite_float, default=None,
        help="with --brokers: simulated seconds per wall second (default: as fast as possible)",
    )
    sim.add_argument(
        "--closed-loop",
        action="store_true",
        help="run the job's rooms in-process and let the audience react to their pushes"
        " (docs/experiments.md); --output gets the whole stream, push opens included",
    )
    sim.add_argument("--recs", help="closed loop: also write the pushes (JSONL)")
    sim.add_argument(
        "--shared-allocation", action="store_true",
        help="closed loop, to measure only: one allocator pools every room's counts (the job"
        " keeps one per room, which replays; docs/experiments.md)",
    )
    sim.add_argument("--experiment-log",
                     help="closed loop: also write the experiment log (ghosts, assignments)")
    sim.add_argument("--summary-json", help="closed loop: also write the per-arm summary (JSON)")
    add_arguments(sim, (*CLOSED_LOOP_SETTINGS, "brokers", "input_topic", "partitions"))

    run = sub.add_parser("run", help="run the job over JSONL files, or between Kafka topics")
    io = run.add_argument_group(IO_GROUP)
    io.add_argument("--input", help="JSONL events (- = stdin); file mode")
    io.add_argument("--output", help="JSONL pushes (- = stdout); file mode")
    io.add_argument("--dead-letters", help="JSONL dead letters (- = stdout); file mode")
    io.add_argument(
        "--workers", type=int, default=1,
        help="Bytewax worker threads in this process, file mode (default 1, at most 64): rooms"
        " are spread over them by room_id, and the pushes are the same as with one; Kafka"
        " mode runs one worker per process (scale with partitions and flows.deployed processes)",
    )
    io.add_argument(
        "--experiment-log",
        help="JSONL experiment log: ghost pushes of holdout arms and adaptive assignments"
        " (file mode; default: none)",
    )
    add_arguments(run, groups={IO_GROUP: io})

    demo = sub.add_parser("demo", help="the embedded default: a simulated world, pushes shown live")
    _world_args(demo, rooms=3, viewers=60, minutes=0.0)
    demo.add_argument(
        "--speed", type=finite_float, default=20.0,
        help="simulated seconds per wall second (default 20)",
    )
    demo.add_argument(
        "--closed-loop", action="store_true",
        help="the audience reacts to the pushes it is shown (opens, purchases, fatigue), and"
        " the screen shows it as it happens; one world, 60 simulated minutes unless --minutes",
    )
    add_arguments(demo, DEMO_SETTINGS)

    ev = sub.add_parser("evaluate", help="score pushes against what viewers did next")
    ev.add_argument("--events", required=True, help="JSONL events the pushes were made from")
    ev.add_argument("--recs", required=True, help="JSONL pushes")
    ev.add_argument("--k", type=int, default=3, help="cut-off of HR@k and NDCG@k (default 3)")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument(
        "--against", metavar="RECS",
        help="JSONL pushes of another run over the same events: also print, per arm, HR@k of"
        " --recs minus theirs on the same actions with a 95%% interval (is the difference"
        " more than chance?)",
    )
    ev.add_argument(
        "--report", metavar="DIR",
        help="also write an HTML page with PNG plots (HR@3 per ranker, by history, over time;"
        " the choice model's calibration and one attention heat-map, from replaying the events"
        " with these settings)",
    )
    add_arguments(ev, FIT_SETTINGS)

    lab = sub.add_parser(
        "lab", help="the job against its peers and the oracle on every simulator regime"
    )
    lab.add_argument("--seeds", default="1,2,3",
                     help="world seeds, comma-separated, ranges allowed: 1-9 (one seed's HR@3"
                     " moves by ~0.01 on chance: the table's intervals say how much)")
    lab.add_argument("--jobs", type=int, default=1,
                     help="worlds run at a time, each in its own process (the rows are the"
                     " same; up to one per core)")
    lab.add_argument(
        "--regimes", default="", help="comma-separated (default: all, held-out listed too)"
    )
    lab.add_argument("--rooms", type=int, default=10, help="rooms per world (default 10)")
    lab.add_argument("--viewers", type=int, default=400, help="viewers per world (default 400)")
    lab.add_argument("--minutes", type=world_minutes, default=15.0, help="minutes (default 15)")
    lab.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    lab.add_argument("--ablations", action="store_true",
                     help="also run the job without each feature group, and with attention or"
                     " propensity only (11 more runs a cell)")
    lab.add_argument("--report", metavar="DIR", help="also write an HTML page with PNG plots")
    lab.add_argument("--attacks", action="store_true",
                     help="also run the rooms under each manipulation of models.sim.attacks"
                          " (one vote, a click farm, sybils, a squatted event id, two clock"
                          " jumpers, fresh accounts that poison or demote, accounts readied to"
                          " poison, the same paying for purchases)")
    lab.add_argument("--world", default="", metavar="FILE.py:CLASS",
                     help="your own world generator instead of the simulator (docs/evaluation.md,"
                          " \"Your own worlds\"); --regimes then names its variants")
    fit = sub.add_parser(
        "fit", help="fit the choice model's weights on past events, for --choice-weights",
        description="Replay past events through the job's rooms and fit the choice model's "
        "weights to every choice they learned from; new rooms of a run given --choice-weights "
        "start from them (docs/evaluation.md, Warm start).",
    )
    fit.add_argument("--input", required=True, help="JSONL events (- = stdin)")
    fit.add_argument("--output", required=True, help="the weights file (JSON; - = stdout)")
    fit.add_argument("--epochs", type=int, default=20, help="passes over the choices (20)")
    fit.add_argument("--min-choices", type=int, default=200,
                     help="refuse to fit on fewer choices than this (default 200)")
    fit.add_argument("--max-choices", type=int, default=100_000,
                     help="fit on a uniform sample of at most this many (default 100000)")
    add_arguments(fit, FIT_SETTINGS)
    priors = sub.add_parser(
        "priors", help="fit the choice model on many worlds and pool them: the POOLED literal",
        description="Fit the choice model on worlds of the simulator (its tuning regimes) and of"
        " each --world, at each seed, and pool the fits, each simulator weighing the same:"
        " how the job's starting weights (POOLED, models/choice_features.py) are made"
        " (docs/evaluation.md).",
    )
    priors.add_argument("--world", action="append", default=[], metavar="FILE.py:CLASS",
                        help="also pool every variant of this world generator (repeatable)")
    priors.add_argument("--seeds", default="1001-1006",
                        help="world seeds (default 1001-1006: seeds the lab does not score)")
    priors.add_argument("--jobs", type=int, default=1, help="worlds fitted at a time")
    priors.add_argument("--rooms", type=int, default=10, help="rooms per world (default 10)")
    priors.add_argument("--viewers", type=int, default=400,
                        help="viewers per world (default 400)")
    priors.add_argument("--minutes", type=world_minutes, default=15.0,
                        help="minutes (default 15)")
    priors.add_argument("--output", help="also write the pooled weights as a --choice-weights file")
    exp = sub.add_parser("experiment", help="experiments: the readout of arms")
    exp_sub = exp.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")
    report = exp_sub.add_parser("report", help="per arm conversion with credible intervals")
    add_report_arguments(report)
    add_arguments(report, KAFKA_SETTINGS)
    cov = exp_sub.add_parser(
        "coverage", help="closed-loop seeds: do the intervals cover the truth, does A/A stay quiet",
        description="Run the closed loop over many seeds and score the readout's 95 %% intervals"
        " against the conversion rate pooled over every run (docs/experiments.md).")
    add_coverage_arguments(cov)
    add_arguments(cov, CLOSED_LOOP_SETTINGS)


    bench = sub.add_parser(
        "bench", help="measure the job against its engine and hardware",
        description="Measure the job; exit 0 when every measured target passes, 3 when one "
        "fails, 1 when a section could not run (targets not measured here fail nothing).",
    )
    bench.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    bench.add_argument("--json", dest="json_file", help="also write the results to this file")
    bench.add_argument("--brokers", help="also measure Kafka to Kafka on this broker")
    return parser


def _world_args(parser: argparse.ArgumentParser, rooms: int, viewers: int, minutes: float) -> None:
    parser.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    parser.add_argument("--rooms", type=int, default=rooms, help=f"rooms (default {rooms})")
    parser.add_argument(
        "--viewers", type=int, default=viewers, help=f"distinct viewers (default {viewers})"
    )
    parser.add_argument(
        "--minutes",
        type=world_minutes,
        default=minutes,
        help="simulated minutes"
        + (" (default: until Ctrl-C)" if not minutes else f" (default {minutes:g})"),
    )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(vars(args))


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # the subcommand's usage, not the top level's
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return _dispatch(args)
    except ValueError as err:  # bad configuration: one clear line, no traceback
        print(f"roomrank {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command in ("lab", "priors", "bench"):  # their tables would be a part only
            print(f"roomrank {args.command}: stopped before it finished; nothing is reported",
                  file=sys.stderr)
        return 130
    except BrokenPipeError:  # `roomrank evaluate | head -1`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # a full disk, a page that cannot be written: one line, as `run`
        print(f"roomrank {args.command}: error: {_io_failure(err)}", file=sys.stderr)
        return 2


def _io_failure(err: OSError) -> str:
    """What an I/O failure of an offline command says (``run`` has its own, ``lifecycle``).

    >>> _io_failure(OSError(28, "No space left on device", "w.json"))
    "'w.json': No space left on device; what was written before it is incomplete"
    """
    what = f"{err.filename!r}: {err.strerror}" if err.filename else (err.strerror or str(err))
    return f"{what}; what was written before it is incomplete"


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        from flows.simulate import simulate_command

        _check_world(args, need_minutes=True)
        return simulate_command(args, _settings(args))
    if args.command == "evaluate":
        from flows.evaluate_command import evaluate_command

        return evaluate_command(args, _settings(args))
    if args.command == "lab":
        from flows.lab import lab_command

        return lab_command(args)
    if args.command == "fit":
        from flows.fit import run_fit

        # From the priors: the deployment's ROOMRANK_CHOICE_WEIGHTS may name the file it writes
        env = {k: v for k, v in os.environ.items() if k != "ROOMRANK_CHOICE_WEIGHTS"}
        return run_fit(Settings.load(vars(args), env), args.input, args.output, args.epochs,
                       args.min_choices, args.max_choices, sys.stderr)
    if args.command == "priors":
        from flows.priors import priors_command

        return priors_command(args)
    if args.command == "experiment":
        from flows.experiment_command import coverage_command, experiment_command

        if args.experiment_command == "coverage":
            return coverage_command(args, _settings(args))
        return experiment_command(args, _settings(args))
    if args.command == "bench":
        from flows.bench.run import run_bench
        from flows.preflight import check_outputs

        if args.json_file:  # before the minutes of measuring
            check_outputs({"--json": args.json_file})
        if args.brokers:  # one line now, not rdkafka's resolve errors for the whole run
            from flows.connectors.kafka_topics import ensure_topics

            ensure_topics(args.brokers, {}, timeout=BENCH_BROKER_PROBE_S)
        return run_bench(quick=args.quick, json_file=args.json_file, brokers=args.brokers)
    settings = _settings(args)
    if args.command == "demo":
        return _demo(args, settings)
    return _run(args, settings)


def _check_world(args: argparse.Namespace, need_minutes: bool) -> None:
    if args.rooms <= 0 or args.viewers <= 0:
        raise ValueError("--rooms and --viewers must be > 0")
    if need_minutes and args.minutes <= 0:
        raise ValueError("--minutes must be > 0")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from flows.jobs import run_files, run_kafka

    if settings.brokers:
        file_flags = [flag for flag, given in (
            ("--input", args.input), ("--output", args.output),
            ("--dead-letters", args.dead_letters), ("--experiment-log", args.experiment_log),
            ("--workers", args.workers != 1)) if given]
        if file_flags:  # ghosts go to --experiment-topic; one worker per process
            raise ValueError(
                f"--brokers runs between Kafka topics; drop {', '.join(file_flags)} (file"
                " mode's; or drop --brokers for file mode)"
            )
        return run_kafka(settings)
    missing = [
        f
        for f, v in (
            ("--input", args.input),
            ("--output", args.output),
            ("--dead-letters", args.dead_letters),
        )
        if not v
    ]
    if missing:
        raise ValueError(f"file mode needs {', '.join(missing)} (or --brokers for Kafka mode)")
    if args.input != "-" and not Path(args.input).is_file():
        raise ValueError(f"--input {args.input!r}: {why_not_a_file(Path(args.input))}")
    return run_files(
        settings, args.input, args.output, args.dead_letters, args.workers, args.experiment_log
    )


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from flows.jobs import run_demo

    _check_world(args, need_minutes=False)
    if args.minutes < 0:
        raise ValueError("--minutes must be > 0, or 0 (the default) to run until Ctrl-C")
    if args.speed <= 0:
        raise ValueError("--speed must be > 0")
    return run_demo(settings, args.seed, args.rooms, args.viewers, args.minutes, args.speed,
                    args.closed_loop)


if __name__ == "__main__":
    sys.exit(main())
