"""``roomrank evaluate`` reads the same events the job reads: a line the job accepts is not
refused here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from flows.evaluate_inputs import records


def test_a_number_past_float64_is_read_as_the_job_reads_it(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u","note":1e400}\n'
    )
    (record,) = records("--events", str(events))
    assert record["user_id"] == "u" and math.isinf(record["note"])


def test_lines_the_job_dead_letters_are_skipped_and_said_once(tmp_path: Path) -> None:
    # found in review: one line of garbage in the job's own input made evaluate refuse it all
    events = tmp_path / "events.jsonl"
    good = b'{"event_id":"e","type":"leave","ts":1,"room_id":"r","user_id":"u"}\n'
    events.write_bytes(good + b"garbage\n" + good.replace(b'"ts":1', b'"ts":"soon"') + good)
    said: list[str] = []
    kept = list(records("--events", str(events), say=said.append))
    assert [r["user_id"] for r in kept] == ["u", "u"]
    assert said == [f"--events {str(events)!r}: skipped 2 of 4 lines, which the job"
                    " dead-letters (first, line 2: not valid UTF-8 JSON: unexpected character,"
                    " expected a JSON value: line 1 column 1 (char 0))"]


def test_events_the_job_refuses_every_line_of_are_refused_naming_the_first(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"rec_id":"x","items":[]}\n')  # a push given as --events
    with pytest.raises(ValueError, match=r"holds no room events .*: the job dead-letters all 1"
                       r" of its lines \(first, line 1: missing required field 'event_id'\)"):
        list(records("--events", str(events)))
