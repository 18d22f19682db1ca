"""After a broker restart, a sink that had nothing to write meanwhile says nothing stale:
every client that said "lost the broker" also says "the broker is back" (red team F9: idle
sinks said "lost" long after the broker was back, when they next wrote, and never "back")."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tests.integration.harness import (
    DEADLINE,
    Job,
    TopicReader,
    produce,
    pushing_job,
    wait_for,
)
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration

LOST = re.compile(r"Kafka (\S+): lost the broker")
BACK = re.compile(r"Kafka (\S+): the broker is back")


def test_idle_sinks_say_no_stale_loss_after_a_broker_restart(
    kafka_broker: Any,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    bootstrap = kafka_broker.bootstrap
    topics, job = pushing_job(bootstrap, kafka_tools, spawn, "idle-sink", world.slice(0, 0.3))

    # Down until a client says so: a restart within one statistics interval of a message is
    # a blip no client reports (BrokerWatch), and then no "back" is owed either.
    kafka_broker.stop()
    wait_for(lambda: LOST.search(job.log.read_text(errors="replace")), "a client's 'lost'",
             DEADLINE, [job])
    kafka_broker.start()
    wait_for(lambda: BACK.search(job.log.read_text(errors="replace")), "a source's 'back'",
             DEADLINE, [job])
    # The dead-letter sink, idle through the outage, writes now (it is polled again).
    produce(bootstrap, topics.input, [(b"r-x", b"not json")])
    with TopicReader(bootstrap, topics.dead, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "the dead letter", DEADLINE)
    # Every client that said "lost" says "back" (a consumer at its next statistics report,
    # a sink when its flush is delivered), and stopping adds no stale loss.
    wait_for(lambda: not _unanswered(job.log.read_text(errors="replace")),
             "a 'back' from every client that said 'lost'", DEADLINE, [job])
    assert job.terminate() == 0

    log = job.log.read_text(errors="replace")
    assert LOST.search(log), job.tail()  # the outage was seen (the sources say it)
    assert not _unanswered(log), job.tail()  # and no client's last word is a stale loss


def _unanswered(log: str) -> Counter[str]:
    """Each client's "lost the broker" lines beyond its "the broker is back" lines."""
    return Counter(LOST.findall(log)) - Counter(BACK.findall(log))
