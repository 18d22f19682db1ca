"""A broker restart mid-stream is waited out: nothing lost, nothing written twice."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from flows.connectors.kafka import KafkaMessagesSink
from tests.flows.helpers import stable
from tests.integration.harness import (
    DEADLINE,
    JOB_START,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    dedup,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    values,
)
from tests.integration.world import Reference, WorldInput

pytestmark = pytest.mark.integration


def test_broker_restart_mid_stream_loses_nothing(
    kafka_broker: Any,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
) -> None:
    bootstrap = kafka_broker.bootstrap
    topics = Topics.unique(kafka_tools, "outage")
    kafka_tools.create_topic(bootstrap, topics.input, PARTITIONS)
    # The job's sink on its own, to see a write during the outage wait for the broker.
    probe_topic = kafka_tools.unique_topic("outage-sink")
    kafka_tools.create_topic(bootstrap, probe_topic, 1)
    sink = KafkaMessagesSink(bootstrap, probe_topic).build("probe", 0, 1)
    probe = [(f"user-{n}".encode(), f"push-{n}".encode()) for n in range(200)]
    produce(bootstrap, topics.input, world.slice(0, 0.5))
    job = spawn("outage", roomrank_run(bootstrap, topics))
    with TopicReader(bootstrap, topics.output, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)

    def write_probe() -> float:
        sink.write_batch([("pushes", probe)])
        return time.monotonic()

    kafka_broker.stop()
    write = ThreadPoolExecutor(1).submit(write_probe)
    job.check()  # a broker outage is waited out, not a reason to exit
    restarting = time.monotonic()
    assert kafka_broker.start() == bootstrap
    written = write.result(timeout=DEADLINE)  # no error: the batch waited for the broker...
    sink.close()
    job.check()
    produce(bootstrap, topics.input, world.slice(0.5, 1))
    pushes = values(run_to_completion(bootstrap, topics, job, world.expected))

    assert written > restarting  # ...it could not have been delivered before it came back
    with TopicReader(bootstrap, probe_topic) as reader:
        assert [(r.key, r.value) for r in reader.read_to_end()] == probe  # once each, in order
    assert pairs(pushes) == world.expected
    assert stable(dedup(pushes)) == stable(reference.pushes)
    # The idempotent producer's retries across the outage wrote no copies.
    assert len(pushes) == len(world.expected), Counter(p["rec_id"] for p in pushes).most_common(3)
    # The outage is in the job's log, in its own format: lost, then back.
    log = job.log.read_text(errors="replace")
    assert "lost the broker" in log and "the broker is back" in log, job.tail()
    assert log.index("lost the broker") < log.rindex("the broker is back"), job.tail()
    assert "%3|" not in log and "%4|" not in log, job.tail()  # no raw librdkafka lines
