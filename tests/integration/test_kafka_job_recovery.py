"""SIGKILL then restart resumes from the last snapshot; SIGTERM stops with a final snapshot."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from tests.flows.helpers import stable
from tests.integration.harness import (
    JOB_START,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    assert_repeats_identical,
    dedup,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    values,
)
from tests.integration.recovery import resume_offsets, sigkill_and_restart
from tests.integration.world import Reference, WorldInput

pytestmark = pytest.mark.integration


def test_sigkill_and_restart_resume_from_the_last_snapshot(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    """Killed mid-stream (`recovery.sigkill_and_restart`), the job restarts from its last
    snapshot: what it pushed since is pushed again, identical, and nothing is lost."""
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "recovery")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    parts = world.slice(0, 0.4), world.slice(0.4, 0.75), world.slice(0.75, 1)
    trigger_ids = {t for t, _u in world.expected}
    assert any(orjson.loads(v)["event_id"] in trigger_ids for _k, v in parts[2])
    argv = roomrank_run(
        kafka_bootstrap, topics, "--recovery-dir", str(recovery), "--snapshot-secs", "1"
    )
    run = sigkill_and_restart(kafka_bootstrap, topics, argv, spawn, recovery, parts)
    assert run.second.terminate() == 0, run.second.tail()

    pushes_before = values(run.before[0])
    assert 0 < len(pairs(pushes_before)) < len(world.expected)
    assert all(run.resume.get(p, 0) >= end for p, end in run.first_snapshot.items())
    every = values(run.records)
    # Every expected push arrived; nothing else did.
    assert pairs(every) == world.expected
    # The restart resumed from the snapshot, not from the beginning: it did not push again
    # what was pushed before that snapshot...
    assert len(run.after()) < len(world.expected)
    # ...but what was pushed after it came again, identical: same rec_id, items and scores.
    assert run.assert_delivered_again() > 0
    # Every repeat equals its first copy (only emitted_at differs).
    assert_repeats_identical(every)
    # And the learners' state after the restart is an uninterrupted run's: same pushes.
    assert stable(dedup(every)) == stable(reference.pushes)
    # The second execution resumed where the store said it would.
    with closing(sqlite3.connect(recovery / "part-0.sqlite3")) as db:
        executions = db.execute("SELECT ex_num, resume_epoch FROM exs ORDER BY ex_num").fetchall()
    assert len(executions) == 2 and executions[1][1] > 1, executions


def test_sigterm_stops_gracefully_with_a_final_snapshot(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    """SIGTERM ends the input: in-flight pushes are flushed, the last epoch is snapshotted and
    the process exits 0; a restart continues with nothing lost and nothing pushed twice."""
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "sigterm")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    part1, part2 = world.slice(0, 0.5), world.slice(0.5, 1)
    # Epochs far longer than the test: any snapshot in the store was written by the stop.
    argv = roomrank_run(
        kafka_bootstrap, topics, "--recovery-dir", str(recovery), "--snapshot-secs", "3600"
    )
    produce(kafka_bootstrap, topics.input, part1)
    first = spawn("graceful-1", argv)
    with TopicReader(kafka_bootstrap, topics.output, [first]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)
    assert resume_offsets(recovery) == {}
    assert first.terminate() == 0, first.tail()
    assert sum(resume_offsets(recovery).values()) > 0, "the stop wrote no snapshot"

    produce(kafka_bootstrap, topics.input, part2)
    second = spawn("graceful-2", argv)
    every = values(run_to_completion(kafka_bootstrap, topics, second, world.expected))
    assert second.terminate() == 0, second.tail()
    assert pairs(every) == world.expected
    assert len({p["rec_id"] for p in every}) == len(every), "a push was emitted twice"
    assert stable(every) == stable(reference.pushes)
