"""The job tests' world as Kafka records, and the uninterrupted reference run they compare to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from tests.flows.helpers import expected_audiences, world_lines
from tests.integration.harness import (
    JOB_START,
    PARTITIONS,
    Job,
    Pair,
    TopicReader,
    Topics,
    end_markers,
    job_env,
    produce,
    roomrank_run,
    run_to_completion,
    served,
    values,
    wait_for,
)


@dataclass(frozen=True)
class WorldInput:
    """A simulated world as Kafka records, and what the job must push for it."""

    records: list[tuple[bytes, bytes]]  # (room_id key, event JSON), production order
    events: list[dict[str, Any]]  # the world's events, without the end-of-input markers
    expected: set[Pair]

    def slice(self, start: float, stop: float) -> list[tuple[bytes, bytes]]:
        """Records from fraction `start` to `stop` of the stream (order kept)."""
        n = len(self.records)
        return self.records[int(start * n) : int(stop * n)]


def audience_pairs(events: Sequence[dict[str, Any]]) -> set[Pair]:
    return {(t, u) for t, users in expected_audiences(list(events)).items() for u in users}


def world_input(seed: int, rooms: int, viewers: int, minutes: float) -> WorldInput:
    lines = world_lines(seed, rooms=rooms, viewers=viewers, minutes=minutes)
    events = [orjson.loads(line) for line in lines]
    markers = end_markers(events)
    records = [(e["room_id"].encode(), line) for e, line in zip(events, lines, strict=True)]
    records += [(m["room_id"].encode(), orjson.dumps(m)) for m in markers]
    return WorldInput(records, events, audience_pairs(events))


# Session-scoped (registered in conftest.py): one world and one reference run for all the
# test_kafka_job_* modules, as when they were one module.
@pytest.fixture(scope="session")
def world() -> WorldInput:
    """Small: ~2.4k events in 12 rooms, ~750 pushes; shared by the tests that compare runs.

    12 rooms, not fewer: Bytewax routes a key to worker `SipHash-1-3(key) % workers`, and the
    world's room ids r-001 to r-009 all land on worker 0 of 2 (r-010 and r-012 on worker 1),
    so with fewer rooms a second process would have nothing to do.
    """
    data = world_input(seed=11, rooms=12, viewers=200, minutes=6)
    assert len(data.expected) > 500
    return data


@dataclass(frozen=True)
class Reference:
    topics: Topics
    records: list[SimpleNamespace]  # the output topic, whole
    dead: list[SimpleNamespace]  # the dead-letter topic, whole
    pushes: list[dict[str, Any]]


@pytest.fixture(scope="session")
def reference(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    tmp_path_factory: pytest.TempPathFactory,
) -> Reference:
    """One uninterrupted `roomrank run` over the world: the run the other tests compare to.

    The job starts first, on topics that do not exist yet: it creates all three
    (`ensure_topics`, 4 partitions) and its source lists the new input topic at once. Then
    the world is produced, as any upstream client would.
    """
    topics = Topics.unique(kafka_tools, "ref")
    log = tmp_path_factory.mktemp("reference") / "job.log"
    job = Job("reference", roomrank_run(kafka_bootstrap, topics), job_env(), log)
    try:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        wait_for(
            lambda: served(admin, topics.input, PARTITIONS),
            f"the job to create {topics.input}",
            JOB_START,
            [job],
        )
        produce(kafka_bootstrap, topics.input, world.records)
        records = run_to_completion(kafka_bootstrap, topics, job, world.expected)
        with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
            dead = reader.read_to_end()
        job.check()
    finally:
        job.kill()  # done: an idle job would only take CPU from the tests after it
    return Reference(topics, records, dead, values(records))
