"""``roomrank evaluate`` given inputs that would make its table a wrong answer (found by a red
team): each is refused in one line, or said beside the table."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson
import pytest

from flows.cli import main
from flows.settings import Settings
from tests.flows.helpers import run_lines, world_lines

ACTIONS = (b'"item_click"', b'"add_to_cart"', b'"purchase"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[bytes]]:
    lines = world_lines(seed=5, rooms=3, viewers=120, minutes=6)
    pushes, _ = run_lines(lines)
    where = tmp_path_factory.mktemp("evaluate")
    events, recs = where / "events.jsonl", where / "recs.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    recs.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in pushes))
    return events, recs, lines


def _evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["evaluate", *args])
    return code, capsys.readouterr().err


def test_events_out_of_order_are_said(world, tmp_path, capsys) -> None:
    events, recs, lines = world
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(recs))
    assert code == 0 and "behind their room's newest" not in err
    shuffled = tmp_path / "shuffled.jsonl"
    mixed = lines[:]
    random.Random(1).shuffle(mixed)
    shuffled.write_bytes(b"\n".join(mixed) + b"\n")
    code, err = _evaluate(capsys, "--events", str(shuffled), "--recs", str(recs))
    assert code == 0
    assert "events came more than --lateness-ms (5000 ms) behind their room's newest" in err
    code, err = _evaluate(capsys, "--events", str(shuffled), "--recs", str(recs),
                          "--lateness-ms", "100000000")
    assert code == 0 and "behind their room's newest" not in err  # the flag reaches the replay


def test_events_with_nothing_to_score_are_refused(world, tmp_path, capsys) -> None:
    _events, recs, lines = world
    idle = tmp_path / "idle.jsonl"
    idle.write_bytes(b"\n".join(x for x in lines if not any(a in x for a in ACTIONS)) + b"\n")
    for report in ((), ("--report", str(tmp_path / "page"))):
        code, err = _evaluate(capsys, "--events", str(idle), "--recs", str(recs), *report)
        assert code == 2 and "no click, add_to_cart or purchase of a pushed viewer" in err, err
        assert "Traceback" not in err


def test_a_report_directory_that_cannot_take_the_page_is_refused(world, tmp_path, capsys) -> None:
    events, recs, _lines = world
    taken = tmp_path / "taken"
    (taken / "index.html").mkdir(parents=True)
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(recs),
                          "--report", str(taken))
    assert (code, err.strip()) == (2, f"roomrank evaluate: error: --report {str(taken)!r}: its"
                                      " index.html is not a file; name another directory")
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(recs),
                          "--report", "/proc/self")
    assert code == 2 and "cannot write in it" in err


def test_two_runs_pushes_in_one_file_are_said(world, tmp_path, capsys) -> None:
    events, recs, lines = world
    other, _ = run_lines(lines, Settings.load({"arms": "control=1"}, env={}))
    both = tmp_path / "both.jsonl"
    both.write_bytes(recs.read_bytes() + b"".join(orjson.dumps(p) + b"\n" for p in other))
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(both))
    said = re.search(r"([\d,]+) rec_ids come again with other items or another arm; the first"
                     r" of each is scored", err)
    assert code == 0 and said and 0 < int(said[1].replace(",", "")) <= len(other), err
    again = tmp_path / "again.jsonl"  # a redelivery repeats the push: nothing to say
    again.write_bytes(recs.read_bytes() * 2)
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(again))
    assert code == 0 and "come again" not in err


def test_pushes_matching_no_event_are_said_with_their_share(world, tmp_path, capsys) -> None:
    events, recs, _lines = world
    foreign = tmp_path / "foreign.jsonl"
    pushes = recs.read_bytes().splitlines(keepends=True)
    moved = [orjson.dumps({**orjson.loads(p), "trigger_id": f"t-{n}", "rec_id": f"x-{n}"})
             + b"\n" for n, p in enumerate(pushes)]
    foreign.write_bytes(b"".join(pushes) + b"".join(moved))
    code, err = _evaluate(capsys, "--events", str(events), "--recs", str(foreign))
    assert code == 0
    assert f"{len(moved):,} of {2 * len(moved):,} pushes (50%) name no showcase" in err, err
