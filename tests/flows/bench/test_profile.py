"""The profiling tool behind docs/benchmarks.md keeps working: on a tiny world, every event
is timed under its own type, and the build_push stages all run (timings are not asserted)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import orjson

from flows.bench.dataflows import world_file
from flows.bench.profile import event_type_costs, ranking_stages
from tests.flows.helpers import until_close


def test_event_type_costs_count_every_applied_event(tmp_path: Path) -> None:
    path = tmp_path / "world.jsonl"
    world_file(path, 2, 60, 3.0)
    lines = until_close([line for line in path.read_bytes().splitlines() if line.strip()])
    table = event_type_costs(lines)
    rows = dict(re.findall(r"^\| (\w+) \| ([\d,]+) \|", table, flags=re.MULTILINE))
    # the world redelivers a few events (as producers do); rooms apply each id once
    events = {(e["room_id"], e["event_id"]): e["type"] for e in map(orjson.loads, lines)}
    expected = Counter(events.values())
    assert len(events) < len(lines)  # the test sees a redelivery
    assert {t: int(n.replace(",", "")) for t, n in rows.items()} == dict(expected)


def test_ranking_stages_run_on_a_small_room() -> None:
    table = ranking_stages(3_000, 20, repeats=1)
    assert "whole build_push" in table and "TopK" in table
    assert len(re.findall(r"^\| .+ \| [\d.]+ \|$", table, flags=re.MULTILINE)) >= 15
