"""The closed loop's stream replayed through `roomrank run` in Kafka mode, killed and restarted.

The closed loop (`models.sim.closed_loop`) runs the job's rooms engine-free against a
reacting audience and writes the whole stream it fed them, push opens included. Produced to a
real broker and read by `roomrank run` with recovery, SIGKILLed mid-stream after a snapshot
and restarted from it, that stream must give what the closed loop's rooms gave: the same
pushes, ghost pushes and assignments, with Thompson allocation moving the shares. Kafka
output is at-least-once, so what the killed run delivered after its last snapshot comes
again: every repeat must equal its first copy (apart from `emitted_at`), and the union,
de-duplicated, must equal the closed loop's outputs.

De-duplication keys: a push and a ghost push by `rec_id` (one per trigger and viewer); an
assignment by (room_id, user_id, trigger_id), since a room assigns a viewer at most once
per trigger.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from flows.settings import Settings
from models.sim.closed_loop import run_closed_loop
from tests.flows.helpers import (
    CLOSED_LOOP_ARMS,
    assert_replays,
    moved_shares,
    split_experiment_log,
)
from tests.integration.harness import (
    PARTITIONS,
    Job,
    Topics,
    assert_repeats_identical,
    dedup,
    end_markers,
    roomrank_run,
    values,
)
from tests.integration.recovery import read_all, sigkill_and_restart

pytestmark = pytest.mark.integration

# 10 pushes per arm before the shares move (not 200), so that they do move in a small world.
EXPERIMENT = {"arms": CLOSED_LOOP_ARMS, "allocation": "thompson", "allocation_min_pushes": "10"}
FLAGS = [arg for key, value in EXPERIMENT.items() for arg in ("--" + key.replace("_", "-"), value)]


def experiment_key(record: dict[str, Any]) -> Hashable:
    """A ghost push's rec_id; an assignment's (room, user, trigger)."""
    if record["kind"] == "assignment":
        return ("assignment", record["room_id"], record["user_id"], record["trigger_id"])
    return ("ghost", record["rec_id"])


def test_the_closed_loop_replays_through_a_sigkill_and_restart(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    """One `roomrank run`, killed and restarted, over the closed loop's stream: its rooms
    make the closed loop's pushes, ghosts and assignments (see the module's doc)."""
    settings = Settings.load(EXPERIMENT, env={})
    run = run_closed_loop(settings.room, seed=6, rooms=12, viewers=300, minutes=8)
    assert run.dead_letters == 0 and any(e["type"] == "push_open" for e in run.events)
    assert {p["arm"] for p in run.pushes} == {"attention", "capped", "control"}
    assert run.ghosts and moved_shares(run.assignments, CLOSED_LOOP_ARMS)
    stream = [*run.events, *end_markers(run.events)]
    records = [(e["room_id"].encode(), orjson.dumps(e)) for e in stream]
    cut1, cut2 = int(0.4 * len(records)), int(0.75 * len(records))
    parts = records[:cut1], records[cut1:cut2], records[cut2:]
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "closed-loop")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    # --quiet-flush-ms 0: the test's pauses (waiting for snapshots, the kill, the restart)
    # are wall-clock gaps no live room has; a quiet flush in one would apply held events
    # early, which is allowed to change what a replay pushes.
    argv = roomrank_run(kafka_bootstrap, topics, *FLAGS, "--quiet-flush-ms", "0",
                        "--recovery-dir", str(recovery), "--snapshot-secs", "1")
    restarted = sigkill_and_restart(kafka_bootstrap, topics, argv, spawn, recovery, parts,
                                    watch=[topics.experiment])
    assert restarted.second.terminate() == 0, restarted.second.tail()

    pushes, log = (values(records) for records in restarted.final)
    # The kill was mid-stream: pushes and experiment records were delivered past the
    # snapshot the restart resumed from, and the restart delivered them again, identical.
    assert restarted.assert_delivered_again(0) > 0
    assert restarted.assert_delivered_again(1, experiment_key) > 0
    # Every repeat equals its first copy; the union, de-duplicated, is the closed loop's.
    assert_repeats_identical(pushes)
    assert_repeats_identical(log, experiment_key)
    assert_replays(run, dedup(pushes), dedup(log, experiment_key))
    _ghosts, assignments = split_experiment_log(dedup(log, experiment_key))
    assert moved_shares(assignments, CLOSED_LOOP_ARMS)
    assert read_all(kafka_bootstrap, topics.dead) == []
