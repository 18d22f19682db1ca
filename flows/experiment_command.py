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
from typing import TYPE_CHECKING, TextIO, TypeAlias

from features.contract.events import Origin
from flows.arg_types import finite_float, world_minutes
from flows.evaluate_inputs import check_exists, print_report
from flows.settings import Settings

if TYPE_CHECKING:  # the readout's modules load when a report runs, not with the CLI
    from models.experiment.inputs import Raw

# The report's flags from the settings table: the topics, and the job's --lateness-ms (the
# readout skips what arrives after a room's room_close as the job does, stragglers within it
# kept) and --conversion-window-ms, each with its ROOMRANK_* variable as the job reads it.
KAFKA_SETTINGS = ("brokers", "input_topic", "output_topic", "experiment_topic", "lateness_ms",
                  "conversion_window_ms")


def add_report_arguments(report: argparse.ArgumentParser) -> None:
    """The flags of the files; the topics' and the lateness's come from the settings table
    (``KAFKA_SETTINGS``)."""
    report.add_argument("--events", help="JSONL events the pushes were made from (file mode)")
    report.add_argument("--recs", help="JSONL pushes (file mode)")
    report.add_argument("--experiment-log",
                        help="JSONL experiment log: ghost pushes, assignments (file mode)")
    # The readout's first name for the job's --conversion-window-ms, kept; it once also set
    # the momentum window's setting (the job's --window-ms) and was checked as that.
    report.add_argument("--window-ms", dest="conversion_window_ms", type=int, default=None,
                        metavar="INT", help="the same as --conversion-window-ms")
    report.add_argument("--kafka-timeout", type=finite_float, default=30.0, metavar="SECONDS",
                        help="Kafka mode: how long a broker may stay silent (default 30)")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument("--html", metavar="DIR", help="also write an HTML page with PNG plots")


def add_coverage_arguments(cov: argparse.ArgumentParser) -> None:
    """The worlds; arms and allocation come from the settings table (the caller adds them)."""
    cov.add_argument("--seeds", default="1-20", help="closed-loop seeds read (default 1-20)")
    cov.add_argument("--truth-seeds", default="101-130",
                     help="more seeds for the pooled truth (default 101-130; '' = none)")
    cov.add_argument("--rooms", type=int, default=20, help="rooms per world (default 20)")
    cov.add_argument("--viewers", type=int, default=800, help="viewers per world (default 800)")
    cov.add_argument("--minutes", type=world_minutes, default=20.0,
                     help="world length (default 20)")
    cov.add_argument("--json", action="store_true", help="print JSON instead of a table")


def coverage_command(args: argparse.Namespace, settings: Settings) -> int:
    from models.offline.coverage import closed_loop_coverage

    seeds, truth = seed_list(args.seeds, "--seeds"), seed_list(args.truth_seeds, "--truth-seeds")
    if not seeds:
        raise ValueError("--seeds names no seed")
    if args.rooms < 1 or args.viewers < 1 or args.minutes <= 0:
        raise ValueError("--rooms and --viewers must be >= 1 and --minutes > 0")
    print(f"coverage: {len(seeds) + len(truth)} closed-loop runs of {args.rooms} rooms,"
          f" {args.viewers} viewers, {args.minutes:g} min", file=sys.stderr)
    result = closed_loop_coverage(settings.room, seeds, truth, args.rooms, args.viewers,
                                  args.minutes)
    print_report(result, args.json)
    return 0


def seed_list(text: str, flag: str) -> list[int]:
    """``1-20``, ``1,5,9`` or both (``1-3,7``), in order, each once.

    >>> seed_list("1-3,7,2", "--seeds")
    [1, 2, 3, 7]
    """
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{flag}: {part!r} is not a seed or a range like 1-20") from None
        if last < first:
            raise ValueError(f"{flag}: the range {part!r} is empty")
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    return seeds


def experiment_command(args: argparse.Namespace, settings: Settings,
                       err: TextIO | None = None) -> int:
    from flows.evaluate_inputs import check_report_dir
    from models.experiment.inputs import (
        Skipped,
        readout_events,
        readout_records,
        unique_assignments,
    )
    from models.experiment.readout import read_experiment
    from models.experiment.timeline import experiment_timeline

    err = sys.stderr if err is None else err
    if args.html:
        check_report_dir("--html", args.html)
    events, pushes, log = _sources(args, settings)
    skipped = Skipped(by_line=bool(args.events))
    ghosts = list(readout_records(log[1], skipped, log[0], "log")) if log else []
    readout = read_experiment(
        readout_events(events[1], skipped, events[0], settings.room.inbox),
        readout_records(pushes[1], skipped, pushes[0], "pushes"),
        ghosts, window_ms=settings.room.conversion_window_ms,
    )
    for line in skipped.lines():
        print(f"roomrank experiment report: {line}", file=err)
    skipped.check_usable(events[0], "a valid room event")
    skipped.check_usable(pushes[0], "a push")
    if log:
        skipped.check_usable(log[0], "a ghost push or an assignment")
    readout.check_inputs(events[0], pushes[0])
    if args.html:
        from flows.experiment_report import write_experiment_report

        effects = {name: arm.design_effect for name, arm in readout.arms.items()}
        timeline = experiment_timeline(readout.pushed, unique_assignments(ghosts),
                                       design_effects=effects)
        page = write_experiment_report(readout, timeline, args.html)
        print(f"report: {page}", file=err)
    print_report(readout, args.json)
    return 0


Source: TypeAlias = "tuple[str, Iterator[Raw]]"


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
