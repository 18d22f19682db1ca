"""``roomrank simulate``: a simulated world to a JSONL file or into Kafka, or the closed loop
(the job's rooms in-process with an audience that reacts to their pushes)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from flows.preflight import check_outputs
from flows.settings import Settings


def _closed_loop(args: argparse.Namespace, settings: Settings, world_regime: Any) -> int:
    from models.sim.closed_loop import format_summary, run_closed_loop, write_jsonl

    run = run_closed_loop(
        settings.room, args.seed, args.rooms, args.viewers, args.minutes, regime=world_regime,
        shared_allocation=args.shared_allocation,
    )
    write_jsonl(args.output, run.events)
    if args.recs:
        write_jsonl(args.recs, run.pushes)
    if args.experiment_log:
        write_jsonl(args.experiment_log, run.experiment_log())
    summary = run.summary()
    if args.summary_json:
        Path(args.summary_json).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    print(f"wrote {len(run.events)} events; {len(run.pushes)} pushes", file=sys.stderr)
    print(format_summary(summary), file=sys.stderr)
    return 0


def simulate_command(args: argparse.Namespace, settings: Settings) -> int:
    """``roomrank simulate``'s flags (world checked by the caller) to a file, Kafka or the
    closed loop."""
    from models.sim.regimes import regime
    from models.sim.world import iter_world, write_world

    world_regime = regime(args.regime)
    if bool(args.output) == bool(settings.brokers):
        raise ValueError("give --output (a JSONL file) or --brokers (play into Kafka), one of them")
    # before the world is simulated: a directory or an unwritable path is one line, not a
    # traceback after minutes of work
    check_outputs({flag: path for flag, path in (
        ("--output", args.output), ("--recs", args.recs),
        ("--experiment-log", args.experiment_log), ("--summary-json", args.summary_json),
    ) if path})  # fmt: skip
    if args.closed_loop:
        if settings.brokers:
            raise ValueError("--closed-loop writes a file: give --output, not --brokers")
        return _closed_loop(args, settings, world_regime)
    if args.recs or args.experiment_log or args.summary_json or args.shared_allocation:
        raise ValueError(
            "--recs, --experiment-log, --summary-json and --shared-allocation need --closed-loop"
        )
    if settings.brokers:
        from flows.connectors.play import play

        if args.speed is not None and not args.speed > 0:
            raise ValueError("--speed must be > 0")
        events = iter_world(args.seed, args.rooms, args.viewers, args.minutes,
                            int(time.time() * 1000), regime=world_regime)
        count = play(events, settings.brokers, settings.input_topic, settings.partitions,
                     args.speed)
        print(f"played {count} events into {settings.input_topic}", file=sys.stderr)
        return 0
    out: Any = sys.stdout.buffer if args.output == "-" else args.output
    count = write_world(
        out, args.seed, args.rooms, args.viewers, args.minutes, regime=world_regime
    )
    print(f"wrote {count} events", file=sys.stderr)
    return 0
