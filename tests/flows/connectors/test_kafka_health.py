"""The Kafka source un-sticks a partition that stopped fetching, and says when the broker
goes and comes back. A stub consumer stands in for librdkafka's stall (issue #5153), which
a real broker produces only rarely; the real thing is in tests/integration."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, TopicPartition

from flows.connectors import kafka, kafka_health
from flows.connectors.kafka_health import BrokerWatch


class StalledConsumer:
    """Assigned, holds 5 messages past the position, delivers nothing until re-assigned."""

    instances: ClassVar[list[StalledConsumer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.assignments: list[list[TopicPartition]] = []
        StalledConsumer.instances.append(self)

    def assign(self, parts: list[TopicPartition]) -> None:
        self.assignments.append(parts)

    def unassign(self) -> None:
        pass

    def consume(self, n: int, timeout: float) -> list[Any]:
        return []

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 12

    def close(self) -> None:
        pass


def test_a_stalled_partition_is_reassigned_at_its_position(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(kafka, "Consumer", StalledConsumer)
    monkeypatch.setattr(kafka_health.time, "monotonic", lambda: clock[0])
    part = kafka._Partition("b:9092", "events", 3, resume=7, batch_size=10, on_lag=None)
    consumer = StalledConsumer.instances[-1]
    assert [(tp.partition, tp.offset) for tp in consumer.assignments[0]] == [(3, 7)]
    part.next_batch()
    clock[0] += kafka_health.STALL_SECS - 1
    part.next_batch()
    assert len(consumer.assignments) == 1  # idle, but not yet long enough
    clock[0] += 2
    part.next_batch()
    assert len(consumer.assignments) == 1  # the broker holds more: armed, not yet stalled
    clock[0] += kafka_health.STALL_SECS
    with caplog.at_level(logging.WARNING, "roomrank.kafka"):
        part.next_batch()
    assert [(tp.partition, tp.offset) for tp in consumer.assignments[-1]] == [(3, 7)]
    assert len(consumer.assignments) == 2
    assert "re-assigning the partition at that offset" in caplog.text


def test_the_consumer_routes_librdkafka_through_the_jobs_logger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka, "Consumer", StalledConsumer)
    kafka._Partition("b:9092", "events", 0, resume=None, batch_size=10, on_lag=None)
    config = StalledConsumer.instances[-1].config
    assert config["logger"] is kafka_health.rdkafka_log
    assert callable(config["error_cb"]) and callable(config["stats_cb"])


def test_losing_and_regaining_the_broker_is_logged_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = BrokerWatch("events[0]")
    with caplog.at_level(logging.INFO, "roomrank.kafka"):
        for _ in range(3):
            watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        watch.on_stats({"brokers": {"b": {"state": "DOWN", "nodeid": 1}}})
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Kafka events[0]: lost the broker (1/1 brokers are down); retrying",
        "Kafka events[0]: the broker is back",
    ]
