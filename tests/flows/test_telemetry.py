"""Telemetry hygiene: labelled counters exist at zero from the start, and a crash in a room
names neither the room nor a viewer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from features.contract.events import DEAD_LETTER_REASONS, EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_labelled_counters_exist_at_zero_before_the_first_occurrence() -> None:
    done = python("""
        import flows.metrics
        from prometheus_client import generate_latest
        print(generate_latest().decode())
    """)
    assert done.returncode == 0, done.stderr
    lines = set(done.stdout.splitlines())
    for reason in DEAD_LETTER_REASONS:
        assert f'roomrank_dead_letters_total{{reason="{reason}"}} 0.0' in lines
    for etype in EVENT_TYPES:
        assert f'roomrank_events_total{{type="{etype}"}} 0.0' in lines


def test_a_crash_in_a_room_names_neither_the_room_nor_a_viewer() -> None:
    done = python("""
        from bytewax.testing import TestingSink, TestingSource, run_main
        from features.contract.events import Origin
        from flows.dataflow import build_flow
        from flows.settings import Settings
        from models.room import Room

        def explode(self, values, read_at=0.0):
            raise KeyError(f"viewer {values[0].user_id} of {values[0].room_id}")

        Room.accept = explode
        line = (b'{"event_id":"e-1","type":"enter","ts":1000,"room_id":"room-secret-7",'
                b'"user_id":"user-secret-9"}')
        source = TestingSource([(Origin("t", 0, 1), line, 0.0)])
        run_main(build_flow(Settings.load(env={}), source, TestingSink([]), TestingSink([])))
    """)
    assert done.returncode == 70, done.stderr[-3000:]
    assert "secret" not in done.stderr + done.stdout, done.stderr[-3000:]
    [line] = [x for x in done.stderr.splitlines() if x.strip()]
    assert "builtins.KeyError at " in line and "failed" in line
