"""The Kafka source un-sticks a partition that stopped fetching, and says when the broker
goes and comes back. A stub consumer stands in for librdkafka's stall (issue #5153), which
a real broker produces only rarely; the real thing is in tests/integration."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from flows.connectors import kafka, kafka_health
from flows.connectors.kafka_health import BrokerWatch


class StalledConsumer:
    """Assigned, holds 5 messages past the position, delivers nothing; ``answers``: whether
    the broker answers its watermark queries (the class attribute, for every instance)."""

    instances: ClassVar[list[StalledConsumer]] = []
    answers: ClassVar[bool] = True

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.assignments: list[list[TopicPartition]] = []
        self.closed = False
        StalledConsumer.instances.append(self)

    def assign(self, parts: list[TopicPartition]) -> None:
        self.assignments.append(parts)

    def consume(self, n: int, timeout: float) -> list[Any]:
        return []

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        if not self.answers:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return 0, 12

    def list_topics(self, topic: str, timeout: float) -> Any:
        if not self.answers:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        partitions = {0: SimpleNamespace()}
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=partitions)})

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def stalled(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Kafka's Consumer replaced by StalledConsumer; returns the monotonic clock to move."""
    clock = [1000.0]
    monkeypatch.setattr(kafka, "Consumer", StalledConsumer)
    monkeypatch.setattr(StalledConsumer, "answers", True)
    monkeypatch.setattr(kafka_health.time, "monotonic", lambda: clock[0])
    StalledConsumer.instances.clear()
    return clock


def positions(consumer: StalledConsumer) -> list[list[tuple[int, int]]]:
    return [[(tp.partition, tp.offset) for tp in parts] for parts in consumer.assignments]


def test_a_stalled_partition_gets_a_new_consumer_at_its_position(
    stalled: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    clock = stalled
    part = kafka._Partition("b:9092", "events", 3, resume=7, batch_size=10, on_lag=None)
    first = StalledConsumer.instances[-1]
    assert positions(first) == [[(3, 7)]]
    part.next_batch()
    clock[0] += kafka_health.STALL_SECS - 1
    part.next_batch()
    assert len(StalledConsumer.instances) == 1  # idle, but not yet long enough
    clock[0] += 2
    part.next_batch()
    assert len(StalledConsumer.instances) == 1  # the broker holds more: armed, not yet stalled
    clock[0] += kafka_health.STALL_SECS
    with caplog.at_level(logging.WARNING, "roomrank.kafka"):
        part.next_batch()
    second = StalledConsumer.instances[-1]
    assert second is not first and first.closed and not second.closed
    assert positions(second) == [[(3, 7)]]
    assert "nothing fetched for 10 s" in caplog.text
    assert "reconnecting the partition at offset 7" in caplog.text


def test_a_partition_the_broker_stopped_answering_gets_a_new_consumer(
    stalled: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """The CI failure: one consumer neither fetched nor answered after a broker restart,
    and never saw the broker go; a new consumer at the same position is the cure."""
    clock = stalled
    StalledConsumer.answers = False
    part = kafka._Partition("b:9092", "events", 0, resume=40, batch_size=10, on_lag=None)
    for _ in range(kafka_health.SILENT_CHECKS):
        assert len(StalledConsumer.instances) == 1
        clock[0] += kafka_health.STALL_SECS
        with caplog.at_level(logging.WARNING, "roomrank.kafka"):
            part.next_batch()
    first, second = StalledConsumer.instances
    assert first.closed and positions(second) == [[(0, 40)]]
    assert "no answer from the broker for 30 s" in caplog.text


def test_a_partition_whose_client_saw_the_broker_go_waits(stalled: list[float]) -> None:
    """In a real outage a new consumer would wait like the old one: no reconnecting."""
    clock = stalled
    StalledConsumer.answers = False
    part = kafka._Partition("b:9092", "events", 0, resume=40, batch_size=10, on_lag=None)
    config = StalledConsumer.instances[-1].config
    config["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    for _ in range(3 * kafka_health.SILENT_CHECKS):
        clock[0] += kafka_health.STALL_SECS
        part.next_batch()
    assert len(StalledConsumer.instances) == 1


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


def test_a_loss_served_late_to_an_idle_client_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An idle sink is polled only when it writes: librdkafka then serves the statistics
    taken after the broker came back, and the loss behind them (red team F9)."""
    watch = BrokerWatch("dead-letters", confirm=True)
    with caplog.at_level(logging.INFO, "roomrank.kafka"):
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})  # queued before
        watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        assert watch.lost  # the client's own view, for StallWatch, at once
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})  # the next report
    assert not watch.lost
    assert [r.getMessage() for r in caplog.records] == []


def test_a_sink_says_a_loss_a_statistics_report_confirms_and_then_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = BrokerWatch("recommendations", confirm=True)
    with caplog.at_level(logging.INFO, "roomrank.kafka"):
        watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
        watch.on_stats({"brokers": {"b": {"state": "DOWN", "nodeid": 1}}})
        watch.on_stats({"brokers": {"b": {"state": "DOWN", "nodeid": 1}}})
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka recommendations: lost the broker (1/1 brokers are down); retrying",
        "Kafka recommendations: the broker is back",
    ]


def test_a_loss_served_just_after_the_first_messages_waits_for_a_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # found by a red team: after a restart each partition said "back", "lost" and "back"
    # within 50 ms, librdkafka serving a loss queued during the outage after the messages
    now = [100.0]
    watch = BrokerWatch("events[0]", clock=lambda: now[0])
    down = KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")
    with caplog.at_level(logging.INFO, "roomrank.kafka"):
        watch.on_error(down)  # a real outage, long after the last message: said at once
        now[0] += 30.0
        watch.on_message()  # back
        now[0] += 0.04
        watch.on_error(down)  # the stale loss
        assert watch.lost
        watch.on_stats({"brokers": {"b": {"state": "UP", "nodeid": 1}}})
        watch.on_message()
        now[0] += 60.0
        watch.on_error(down)  # a new outage, a minute on: said at once again
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka events[0]: lost the broker (1/1 brokers are down); retrying",
        "Kafka events[0]: the broker is back",
        "Kafka events[0]: lost the broker (1/1 brokers are down); retrying",
    ]


class OutageProducer:
    """A producer whose flush spans the end of an outage: librdkafka says every broker is
    down, serves a statistics report that confirms it, then delivers (acks=all) and returns
    0. With ``delivery.report.only.error`` nothing else tells the sink the broker is back."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.queued = 0

    def produce(self, topic: str, value: bytes, key: bytes | None) -> None:
        self.queued += 1

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        if self.queued:
            self.config["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers down"))
            self.config["stats_cb"]('{"brokers": {"b": {"state": "DOWN", "nodeid": 1}}}')
        self.queued = 0
        return 0


def test_a_sink_whose_flush_outlasts_an_outage_says_back_when_it_is_delivered(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen in CI: the recommendations sink's flush confirmed the loss by a report a moment
    before the broker came back; the next report was 5 s off and the job stopped first, so
    its last word was a stale "lost". Its messages delivered is the news that it is back."""
    monkeypatch.setattr(kafka, "Producer", OutageProducer)
    sink = kafka.KafkaMessagesSink("b:9092", "recommendations").build("out", 0, 1)
    with caplog.at_level(logging.INFO, "roomrank.kafka"):
        sink.write_batch([("r1", [(b"u1", b"{}")])])
        sink.write_batch([])  # nothing written: nothing to say
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka recommendations: lost the broker (1/1 brokers down); retrying",
        "Kafka recommendations: the broker is back",
    ]
