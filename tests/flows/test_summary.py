"""The summary line ``roomrank run`` and ``roomrank demo`` end with (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.flows.test_cli import roomrank

LINE = re.compile(
    r"^roomrank: ([\d,]+) events \((.+?)\), ([\d,]+) pushes, ([\d,]+) dead letters"
    r"(?: \((.+?)\))?, ([\d,]+) duplicates in [\d.]+ s, [\d,]+ events/s$"
)


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def test_run_ends_with_one_summary_line_that_agrees_with_its_outputs(tmp_path: Path) -> None:
    events, recs, dead = tmp_path / "world.jsonl", tmp_path / "recs.jsonl", tmp_path / "dl.jsonl"
    made = roomrank("simulate", "--rooms", "3", "--viewers", "80", "--minutes", "3",
                    "--output", str(events))
    assert made.returncode == 0, made.stderr
    with events.open("ab") as fh:  # two dead letters of two reasons, and one redelivery
        fh.write(b"not json\n" + b'{"event_id": "x"}\n' + events.read_bytes().splitlines()[0]
                 + b"\n")
    ran = roomrank("run", "--input", str(events), "--output", str(recs),
                   "--dead-letters", str(dead))
    assert ran.returncode == 0, ran.stderr
    last = ran.stderr.decode().strip().splitlines()[-1]
    match = LINE.match(last)
    assert match, last
    n_events, kinds, pushes, n_dead, reasons, duplicates = match.groups()
    pushed = recs.read_bytes().splitlines()
    dead_lines = dead.read_bytes().splitlines()
    assert _count(pushes) == len(pushed) > 0
    assert _count(n_dead) == len(dead_lines) == 2 and reasons
    assert _count(duplicates) >= 1  # ours, and the simulator's own redeliveries
    by_kind = {k: _count(n) for k, n in (part.rsplit(" ", 1) for part in kinds.split(", "))}
    assert sum(by_kind.values()) == _count(n_events)
    total_in = len(events.read_bytes().splitlines())
    assert _count(n_events) + len(dead_lines) + _count(duplicates) == total_in


def test_demo_ends_with_the_summary_line() -> None:
    done = roomrank("demo", "--rooms", "2", "--viewers", "30", "--minutes", "2", "--speed", "4000")
    assert done.returncode == 0, done.stderr
    assert LINE.match(done.stderr.decode().strip().splitlines()[-1])
