"""``roomrank experiment report``: the readout, from the run's files or from its Kafka topics.

Both inputs are read the same way (``models.experiment.inputs``): events through the job's
decoder, pushes and the experiment log checked record by record, skips counted on stderr.
From Kafka the three topics are read from their beginning to where they ended when the
report began (``flows.connectors.kafka_read``), so the report ends while the job runs on and
equals the one from the files the same run wrote (the readout ignores order and repeats).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from features.contract.events import Origin
from flows.evaluate_inputs import check_exists, print_report
from flows.settings import Settings

Raw = tuple[Origin, bytes]

KAFKA_SETTINGS = ("brokers", "input_topic", "output_topic", "experiment_topic")


def add_report_arguments(report: argparse.ArgumentParser) -> None:
    """The flags of the files; the topics' come from the settings table (``KAFKA_SETTINGS``)."""
    report.add_argument("--events", help="JSONL events the pushes were made from (file mode)")
    report.add_argument("--recs", help="JSONL pushes (file mode)")
    report.add_argument("--experiment-log",
                        help="JSONL experiment log: ghost pushes, assignments (file mode)")
    report.add_argument(
        "--window-ms", type=int, default=300_000, help="conversion window (default 300000)"
    )
    report.add_argument("--kafka-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="Kafka mode: how long a broker may stay silent (default 30)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument("--html", metavar="DIR", help="also write an HTML page with PNG plots")


def experiment_command(args: argparse.Namespace, settings: Settings,
                       err: TextIO | None = None) -> int:
    from models.experiment.inputs import (
        Skipped,
        readout_events,
        readout_records,
        unique_assignments,
    )
    from models.experiment.readout import read_experiment
    from models.experiment.timeline import experiment_timeline

    err = sys.stderr if err is None else err
    events, pushes, log = _sources(args, settings)
    skipped = Skipped(by_line=bool(args.events))
    ghosts = list(readout_records(log[1], skipped, log[0])) if log else []
    readout = read_experiment(
        readout_events(events[1], skipped, events[0]),
        readout_records(pushes[1], skipped, pushes[0]),
        ghosts, window_ms=args.window_ms,
    )
    for line in skipped.lines():
        print(f"roomrank experiment report: {line}", file=err)
    skipped.check_usable(events[0], "a valid room event")
    skipped.check_usable(pushes[0], "a push")
    if log:
        skipped.check_usable(log[0], "a ghost push or an assignment")
    if args.html:
        from flows.experiment_report import write_experiment_report

        effects = {name: arm.design_effect for name, arm in readout.arms.items()}
        timeline = experiment_timeline(readout.pushed, unique_assignments(ghosts),
                                       design_effects=effects)
        page = write_experiment_report(readout, timeline, args.html)
        print(f"report: {page}", file=err)
    print_report(readout, args.json)
    return 0


Source = tuple[str, Iterator[Raw]]


def _sources(args: argparse.Namespace,
             settings: Settings) -> tuple[Source, Source, Source | None]:
    """(events, pushes, experiment log or None), each named for the messages about it."""
    files = [args.events, args.recs, args.experiment_log]
    if any(files):
        if not (args.events and args.recs):
            raise ValueError("file mode needs both --events and --recs")
        if args.brokers:
            raise ValueError("give files (--events, --recs) or --brokers, not both")
        check_exists("--events", args.events)
        check_exists("--recs", args.recs)
        if args.experiment_log:
            check_exists("--experiment-log", args.experiment_log)
        named = [(f"--{flag} {path}", _lines(path))
                 for flag, path in zip(("events", "recs", "experiment-log"), files, strict=True)
                 if path]
        return named[0], named[1], named[2] if len(named) > 2 else None
    if not settings.brokers:
        raise ValueError("give --events and --recs (files), or --brokers (Kafka topics)")
    from flows.connectors.kafka_read import read_topic

    brokers, timeout = settings.brokers, args.kafka_timeout
    if timeout <= 0:
        raise ValueError("--kafka-timeout must be > 0")
    topics = (settings.input_topic, settings.output_topic, settings.experiment_topic)
    first = [(f"topic {t}", read_topic(brokers, t, timeout)) for t in topics]
    return first[0], first[1], first[2]


def _lines(path: str) -> Iterator[Raw]:
    with Path(path).open("rb") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                yield Origin(path, 0, number), line.rstrip(b"\r\n")
