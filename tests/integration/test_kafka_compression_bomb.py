"""A message librdkafka cannot decompress (kilobytes on the wire, 120 MB unpacked) is a dead
letter, and its partition reads on: every push of the room behind it arrives."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer

from tests.integration.harness import (
    DEADLINE,
    PARTITIONS,
    Job,
    TopicReader,
    Topics,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    values,
)
from tests.integration.world import WorldInput

pytestmark = pytest.mark.integration

BOMB_BYTES = 120_000_000  # librdkafka refuses to unpack it (60 MB it still does)


def test_a_message_that_cannot_be_decompressed_is_a_dead_letter_and_reading_goes_on(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    # found by a red team: the partition was fetched and refused forever (0 events, 0 dead
    # letters, memory growing), and every room behind it starved
    topics = Topics.unique(kafka_tools, "bomb")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    room = world.records[0][0]  # the bomb goes first in this room's partition
    bomb = Producer({"bootstrap.servers": kafka_bootstrap, "compression.type": "zstd",
                     "message.max.bytes": 1_000_000_000})
    bomb.produce(topics.input, b'{"pad":"' + b"a" * BOMB_BYTES + b'"}', room)
    assert bomb.flush(60) == 0
    produce(kafka_bootstrap, topics.input, world.records)
    job = spawn("bomb", roomrank_run(kafka_bootstrap, topics))
    every = values(run_to_completion(kafka_bootstrap, topics, job, world.expected))
    assert pairs(every) == world.expected
    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        [letter] = values(reader.wait_until(lambda rs: len(rs) > 0, "a dead letter", DEADLINE))
    assert job.terminate() == 0, job.tail()
    assert letter["offset"] == 0 and letter["raw"] == ""
    assert "could not decompress this message" in letter["error"]
    assert "a compression bomb" in letter["error"]
