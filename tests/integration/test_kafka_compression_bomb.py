"""A compressed batch of several messages that cannot be decompressed (two 60 MB events in
one zstd batch, 120 MB unpacked: past what the client unpacks) is one dead letter per message,
and the partition reads on after it, against a real broker.

librdkafka names only the batch's first offset, however far into the batch the consumer asks
(``tests/flows/connectors/test_kafka_bad_batch.py`` has the rule with a stand-in consumer). A
red team's one-message bomb (9 KB on the wire, 120-300 MB unpacked) held its partition
forever: 0 events, 0 dead letters.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import orjson
import pytest
from confluent_kafka import Producer

from tests.integration.harness import (
    DEADLINE,
    Job,
    TopicReader,
    Topics,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    values,
)
from tests.integration.world import world_input

pytestmark = pytest.mark.integration

BOMB_BYTES = 60_000_000  # two in one batch: 120 MB unpacked, past the client's 100 MB


def produce_bomb(bootstrap: str, topic: str, count: int) -> list[int]:
    """``count`` highly compressible events in one zstd batch; their offsets."""
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.type": "zstd",
        "linger.ms": 1000,
        "message.max.bytes": 1_000_000_000,
        "batch.size": 1_000_000_000,
    })
    offsets: list[int] = []
    head = b'{"event_id":"bomb","type":"like","ts":1764331260000,"room_id":"r-1","pad":"'
    value = head + b"a" * (BOMB_BYTES - len(head) - 2) + b'"}'
    for _ in range(count):
        producer.produce(topic, value, b"r-1", partition=0,
                         on_delivery=lambda err, msg: offsets.append(msg.offset()))
    assert producer.flush(60) == 0
    return sorted(offsets)


def test_a_bad_batch_of_two_messages_is_two_dead_letters_and_the_partition_reads_on(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, spawn: Callable[..., Job]
) -> None:
    small = world_input(seed=5, rooms=2, viewers=40, minutes=3)
    topics = Topics.unique(kafka_tools, "bomb")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, 1)  # every event behind the bomb
    bombs = produce_bomb(kafka_bootstrap, topics.input, 2)
    assert bombs == [0, 1]
    produce(kafka_bootstrap, topics.input, small.records)
    job = spawn("bomb", roomrank_run(kafka_bootstrap, topics))

    pushes = values(run_to_completion(kafka_bootstrap, topics, job, small.expected))
    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) >= len(bombs), "the bombs' dead letters", DEADLINE)
        letters = [orjson.loads(r.value) for r in reader.read_to_end()]

    assert pairs(pushes) == small.expected  # the good events behind the bomb were read
    assert sorted((d["partition"], d["offset"]) for d in letters) == [(0, 0), (0, 1)]
    for letter in letters:
        assert letter["topic"] == topics.input and letter["raw"] == ""
        assert "could not decompress this message (its batch from offset 0" in letter["error"]
        assert "--max-message-bytes" in letter["error"]
    assert job.terminate() == 0, job.tail()
    assert "Traceback" not in job.log.read_text(errors="replace"), job.tail()
