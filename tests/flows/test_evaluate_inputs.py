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


def test_a_line_that_is_not_json_names_the_file_and_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"event_id":"e","type":"leave","ts":1}\n{"x":1e400,"y":NaN}\n')
    with pytest.raises(ValueError, match=r"--events '.*events.jsonl' line 2: not JSON"):
        list(records("--events", str(events)))
