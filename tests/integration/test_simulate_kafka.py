"""``roomrank simulate --brokers``: a simulated world played into the input topic, for real."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _simulate(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "flows.cli", "simulate", *args], cwd=ROOT,
                          capture_output=True, timeout=300)


@pytest.mark.parametrize("speed", [None, "600"])  # as fast as possible, and paced
def test_simulate_plays_a_world_into_the_input_topic(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, speed: str | None
) -> None:
    topic = kafka_tools.unique_topic("simulate")
    before_ms = time.time() * 1000
    done = _simulate("--brokers", kafka_bootstrap, "--input-topic", topic, "--partitions", "3",
                     "--rooms", "3", "--viewers", "40", "--minutes", "2",
                     *(("--speed", speed) if speed else ()))
    assert done.returncode == 0, done.stderr.decode()
    played = re.search(rb"played (\d+) events into " + topic.encode(), done.stderr)
    assert played, done.stderr.decode()
    n = int(played.group(1))
    wrote = _simulate("--rooms", "3", "--viewers", "40", "--minutes", "2", "--output", "-")
    in_file = [orjson.loads(line) for line in wrote.stdout.splitlines()]
    assert n == len(in_file) > 0  # the same world as the file

    got = kafka_tools.consume_all(kafka_bootstrap, topic, until=lambda rs: len(rs) >= n)
    assert len(got) == n
    events = [orjson.loads(r.value) for r in got]
    assert all(r.key == e["room_id"].encode() for r, e in zip(got, events, strict=True))
    assert sorted(e["event_id"] for e in events) == sorted(e["event_id"] for e in in_file)
    partitions: dict[str, set[int]] = defaultdict(set)
    for r, e in zip(got, events, strict=True):
        partitions[e["room_id"]].add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())
    # the played world starts at the wall clock, so the job's event lag means something
    first = min(e["ts"] for e in events)
    assert before_ms - 1000 <= first <= time.time() * 1000
