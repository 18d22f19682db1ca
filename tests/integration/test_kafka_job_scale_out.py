"""Two Bytewax processes push what one does, each for its own rooms."""

from __future__ import annotations

import socket
import sys
import urllib.request
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from tests.flows.helpers import stable
from tests.integration.harness import (
    DEADLINE,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    has_all,
    job_env,
    produce,
    values,
)
from tests.integration.world import Reference, WorldInput

pytestmark = pytest.mark.integration


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _pushes_counted(port: int) -> float:
    """`roomrank_pushes_total` of one process, from its Prometheus endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        text = page.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("roomrank_pushes_total{")
    )


def test_two_processes_push_the_same_as_one(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
) -> None:
    topics = Topics.unique(kafka_tools, "scale")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    produce(kafka_bootstrap, topics.input, world.records)
    *cluster, metrics0, metrics1 = _free_ports(4)
    addresses = ";".join(f"127.0.0.1:{port}" for port in cluster)
    # Each process serves its metrics on its own port, to show that both did part of the work.
    metrics = [metrics0, metrics1]
    command = [sys.executable, "-m", "bytewax.run", "flows.deployed:flow", "-w", "1"]
    jobs = [
        spawn(
            f"process-{i}",
            [*command, "-i", str(i), "-a", addresses],
            job_env(
                {
                    "ROOMRANK_BROKERS": kafka_bootstrap,
                    "ROOMRANK_INPUT_TOPIC": topics.input,
                    "ROOMRANK_OUTPUT_TOPIC": topics.output,
                    "ROOMRANK_DEAD_LETTER_TOPIC": topics.dead,
                    "ROOMRANK_EXPERIMENT_TOPIC": topics.experiment,
                    "ROOMRANK_PARTITIONS": str(PARTITIONS),
                    "ROOMRANK_METRICS_PORT": str(metrics[i]),
                }
            ),
        )
        for i in range(2)
    ]
    with TopicReader(kafka_bootstrap, topics.output, jobs) as reader:
        reader.wait_until(has_all(world.expected), "all expected pushes", DEADLINE)
        pushes = values(reader.read_to_end())
    counted = [_pushes_counted(port) for port in metrics]

    assert stable(pushes) == stable(reference.pushes)
    # Rooms are spread over the two processes: each pushed for its own rooms, none twice.
    assert all(n > 0 for n in counted) and sum(counted) == len(pushes), counted
