"""A topic the job writes to, deleted while it runs (the broker does not create topics on
write): one line naming the topic and what to do, exit 2, not a traceback; the next run
creates the topic again and resumes."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from confluent_kafka.admin import AdminClient

from tests.integration.harness import Job, produce, pushing_job
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def test_the_dead_letter_topic_deleted_mid_run_ends_the_job_in_one_line(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    # found by a red team: a Python traceback and a BytewaxRuntimeError, exit 1
    topics, job = pushing_job(kafka_bootstrap, kafka_tools, spawn, "deleted",
                              world.slice(0, 0.3))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.delete_topics([topics.dead])[topics.dead].result(60)
    produce(kafka_bootstrap, topics.input, [(b"r-x", b"not json")])
    assert job.proc.wait(120) == 2, job.tail()
    said = job.tail()
    assert f"roomrank run: error: Kafka refused messages for topic '{topics.dead}'" in said
    assert "Traceback" not in said
