"""``roomrank evaluate``: pushes scored against what viewers did next, as a table, JSON, a
comparison with another run (``--against``) or the lab's page (``--report``).

Every input is checked before the scoring starts, and pushes that match none of the events
(made from another input) are refused: an empty table with status 0 would hide the mistake.
"""

from __future__ import annotations

import argparse
import sys

from flows.evaluate_inputs import (
    Against,
    check_exists,
    check_matched,
    check_report_dir,
    print_report,
    records,
)
from flows.settings import Settings
from models.offline.evaluation import evaluate
from models.offline.replay import DEFAULT_LATENESS_MS

EVALUATE_INTRO = (
    "HR@3 is the share of clicks, carts and purchases whose item was in the viewer's latest"
    " push (or in the peer's top 3 for that push: peers computed from the events alone), scored"
    " on the same pairs for every ranker. The calibration and the heat-map replay the events"
    " through the job's rooms with this command's settings."
)


def _say(line: str) -> None:
    print(f"roomrank evaluate: {line}", file=sys.stderr)


def evaluate_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.k < 1:
        raise ValueError(f"--k must be at least 1, got {args.k}")
    check_exists("--events", args.events)
    check_exists("--recs", args.recs)
    if args.against:
        check_exists("--against", args.against)
    if args.report:
        check_report_dir("--report", args.report)
    # The replay's own reorder window (wider than the job's) unless one is given.
    lateness_ms = settings.lateness_ms if "lateness_ms" in settings.given else DEFAULT_LATENESS_MS
    report = evaluate(records("--events", args.events, say=_say), records("--recs", args.recs),
                      k=args.k, outcomes=bool(args.against), lateness_ms=lateness_ms,
                      timeout_ms=settings.presence_timeout_ms)
    check_matched(report, args.events, args.recs, _say)
    disorder = report.counts.get("events_beyond_lateness", 0)
    if disorder:  # scored where they stand: the viewers' histories are not what happened
        _say(f"--events {args.events!r}: {disorder:,} of {report.counts['events_in']:,} events"
             f" came more than --lateness-ms ({lateness_ms} ms) behind their room's"
             " newest and were scored where they stand, which changes what each push is"
             " scored against; give the events in each room's order (a dump of several"
             " partitions: sort it by ts)")
    if args.report:
        from flows.lab import evaluate_row
        from flows.lab_report import write_report

        row = evaluate_row(args.events, args.recs, settings, args.k)
        page = write_report([row], args.report, "roomrank evaluate: the pushes against what"
                            " viewers did next", EVALUATE_INTRO)
        print(f"report: {page}", file=sys.stderr)
    if args.against:
        other = evaluate(records("--events", args.events), records("--against", args.against),
                         k=args.k, outcomes=True, lateness_ms=lateness_ms,
                         timeout_ms=settings.presence_timeout_ms)
        print_report(Against(report, other, args.against), args.json)
        return 0
    print_report(report, args.json)
    return 0
