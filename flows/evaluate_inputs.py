"""The files ``roomrank evaluate`` reads, checked as they are read, and how its report prints.

A missing file, a line that is not JSON, or the wrong kind of file (events given as
recommendations, which would score nothing and print an empty table with status 0) is a
``ValueError`` naming the flag, the file and the line: the command line prints it as one
line and exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter, Origin
from features.contract.wide_numbers import loads_beyond_float64
from models.offline.evaluation import EvaluationReport
from models.offline.paired import Z95, compared

# A field every record of the kind has, and one that tells the other kind apart.
KINDS = {
    "--events": ("event_id", "type", "room events (the input of `roomrank run`)"),
    "--recs": ("rec_id", "items", "pushes (the --output of `roomrank run`)"),
    "--against": ("rec_id", "items", "pushes (the --output of `roomrank run`)"),
}


def check_exists(flag: str, path: str) -> None:
    if not Path(path).is_file():
        what = "is a directory" if Path(path).is_dir() else "no such file"
        raise ValueError(f"{flag} {path!r}: {what}")


def check_report_dir(flag: str, path: str) -> None:
    """Make the directory a page is written to, before the minutes of work it reports on: one
    that cannot be made (a file there, no permission) is a ``ValueError`` naming the flag.

    >>> check_report_dir("--report", "/etc/hostname")
    Traceback (most recent call last):
    ...
    ValueError: --report '/etc/hostname' is a file; name a directory (it is created when missing)
    """
    given = Path(path)
    if given.exists() and not given.is_dir():
        raise ValueError(f"{flag} {path!r} is a file; name a directory (it is created when"
                         " missing)")
    try:
        given.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{flag} {path!r}: cannot create it ({err.strerror})") from None
    probe = given / f".roomrank-probe-{os.getpid()}"  # one that exists may still refuse files
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"{flag} {path!r}: cannot write in it ({err.strerror})") from None
    page = given / "index.html"
    if page.exists() and not page.is_file():
        raise ValueError(f"{flag} {path!r}: its index.html is not a file; name another directory")


def check_matched(report: EvaluationReport, events: str, recs: str,
                  say: Callable[[str], None] | None = None) -> None:
    """What would make the table a wrong answer given with status 0 is refused: pushes none
    of which names a trigger of the events (made from another input), events with no action
    to score. Said through ``say``: pushes that match no event beside ones that do, with
    their share, and two different pushes under one ``rec_id``. Those are kept first-wins, as
    a consumer that de-duplicates on ``rec_id`` showed them (a resume across a release
    re-sends a push with other items); but two runs' pushes in one file make the score
    depend on the file's order, so the line says so."""
    counts = report.counts
    if counts.get("recs_in", 0) and not counts.get("recs_matched", 0):
        raise ValueError(
            f"--recs {recs!r}: none of its {counts['recs_in']:,} pushes names a showcase or"
            f" enter of --events {events!r} (by trigger_id and room_id): they were made from"
            " another input; give the events the pushes were made from"
        )
    if not counts.get("actions_scored", 0):
        raise ValueError(
            f"--events {events!r}: no click, add_to_cart or purchase of a pushed viewer to"
            " score the pushes against; give events that run on after the pushes"
        )
    if counts.get("recs_conflicting", 0) and say is not None:
        say(f"--recs {recs!r}: {counts['recs_conflicting']:,} rec_ids come again with other"
            " items or another arm; the first of each is scored, as a consumer that"
            " de-duplicates on rec_id showed it. If these are two runs' pushes in one file,"
            " the score depends on its order: evaluate each run on its own (--against compares)")
    unmatched = counts.get("recs_unmatched", 0)
    if unmatched and say is not None:
        say(f"--recs {recs!r}: {unmatched:,} of {counts['recs_in']:,} pushes"
            f" ({unmatched / counts['recs_in']:.0%}) name no showcase or enter of --events"
            " and are not scored: were some made from another input?")


def records(
    flag: str, path: str, say: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """The file's records, each checked to be of the kind ``flag`` expects.

    The events are the job's input, read with the job's own decoder: a line the job
    dead-letters is skipped (counted, and said through ``say`` with the first one's line and
    error), not scored and not fatal, so a real input with a few bad lines can be evaluated.
    """
    first, second, kind = KINDS[flag]
    count = skipped = 0
    why = ""
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            if flag == "--events":
                event = decode_event(line.rstrip(b"\r\n"), Origin(path, 0, number))
                if isinstance(event, DeadLetter):
                    skipped += 1
                    why = why or f"line {number}: {event.error}"
                    continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as err:
                try:  # a number past float64 (1e400) is JSON, and the job reads the event
                    record = loads_beyond_float64(line)
                except ValueError:
                    raise ValueError(f"{flag} {path!r} line {number}: not JSON ({err})") from None
            if not isinstance(record, dict) or first not in record or second not in record:
                raise ValueError(
                    f"{flag} {path!r} line {number}: not one of {kind}; "
                    f"every line needs {first!r} and {second!r}"
                )
            count += 1
            yield record
    if not count:
        raise ValueError(f"{flag} {path!r} holds no {kind}" + (
            f": the job dead-letters all {skipped} of its lines (first, {why})" if skipped else ""))
    if skipped and say is not None:
        say(f"{flag} {path!r}: skipped {skipped} of {count + skipped} lines, which the job"
            f" dead-letters (first, {why})")


class Report(Protocol):
    """What ``evaluate`` and ``experiment report`` print: a table for people, JSON for tools."""

    def to_dict(self) -> dict[str, Any]: ...

    def format_table(self) -> str: ...


def print_report(report: Report, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        print(report.format_table())


class Against:
    """``roomrank evaluate --against``: the report of the first pushes, and per arm their
    HR@k minus that of the second pushes (another run over the same events) on the actions
    both were scored on, with a 95 % interval clustered by viewer."""

    def __init__(self, report: EvaluationReport, other: EvaluationReport, path: str) -> None:
        self.report, self.path = report, path
        diffs = compared(report.outcomes, other.outcomes)
        self.diffs = {arm: diffs[arm] for arm in sorted(diffs, key=lambda a: (a != "ALL", a))}
        if not any(d.n for d in self.diffs.values()):
            raise ValueError(
                f"--against {path!r}: no action was scored against both sets of pushes; "
                "were both runs made from these --events, with the same experiment arms?"
            )

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "against": {
            "recs": self.path,
            "arms": {arm: {"diff": d.diff, "se": d.se, "ci95": Z95 * d.se, "actions": d.n,
                           "viewers": d.viewers, "beyond_noise": d.beyond_noise}
                     for arm, d in self.diffs.items()}}}

    def format_table(self) -> str:
        k = self.report.k
        lines = [self.report.format_table(), "",
                 f"HR@{k} of these pushes minus those of --against {self.path} on the same"
                 " actions (95 % interval, clustered by viewer)",
                 f"{'arm':<24}{'actions':>8}{'viewers':>8}{'diff':>9}{'± 95 %':>9}"]
        for arm, d in self.diffs.items():
            verdict = "beyond noise" if d.beyond_noise else "within noise"
            lines.append(f"{arm:<24}{d.n:>8}{d.viewers:>8}{d.diff:>+9.3f}"
                         f"{Z95 * d.se:>9.3f}  {verdict}")
        return "\n".join(lines)
