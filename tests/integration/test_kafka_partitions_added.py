"""Partitions added to the input topic while the job runs are not read until a restart (the
engine lists them once, at start): the job says so in one warning, and the restart reads
them."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from confluent_kafka.admin import AdminClient, NewPartitions

from flows.connectors.kafka import RECOUNT_SECS
from tests.integration.harness import Job, pushing_job
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration


def test_partitions_added_mid_run_are_said_in_one_warning(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    # found by a red team: rooms keyed to the new partitions starved without a word (the lag
    # metric does not cover them either)
    topics, job = pushing_job(kafka_bootstrap, kafka_tools, spawn, "grown",
                              world.slice(0, 0.2), partitions=1)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_partitions([NewPartitions(topics.input, 3)])[topics.input].result(60)
    said = f"Kafka {topics.input} now has 3 partitions, 1 when the job started"
    deadline = time.monotonic() + RECOUNT_SECS + 60
    while said not in job.log.read_text(errors="replace"):
        job.check()
        assert time.monotonic() < deadline, job.tail()
        time.sleep(0.5)  # poll the log, bounded by the deadline
    assert job.terminate() == 0, job.tail()
    assert job.log.read_text().count(said) == 1
