"""Plain confluent-kafka helpers: create a topic, produce records, read a topic back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

Key = bytes | None
Value = bytes | None


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    *,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create a topic and wait until the broker serves metadata for all its partitions."""
    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, partitions, replication_factor, config=config or {})],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    futures[name].result(timeout=timeout)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"topic {name!r} not served with {partitions} partitions")
        topic = admin.list_topics(topic=name, timeout=remaining).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.05)  # poll interval while metadata propagates, bounded by the deadline


def unique_topic(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def produce_all(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[Key, Value]],
    *,
    timeout: float = 30.0,
    producer: Producer | None = None,
) -> int:
    """Produce (key, value) records, wait for every delivery report, raise on any failure."""
    if producer is None:
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors: list[KafkaError] = []
    delivered = 0

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        nonlocal delivered
        if err is not None:
            errors.append(err)
        else:
            delivered += 1

    sent = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        producer.poll(0)
    left = producer.flush(timeout)
    if errors:
        raise KafkaException(errors[0])
    if left or delivered != sent:
        raise TimeoutError(f"{sent - delivered} of {sent} records not delivered in {timeout}s")
    return sent


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: Key
    value: Value
    timestamp_ms: int
    headers: tuple[tuple[str, bytes | None], ...]


def consume_all(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Record]], bool] | None = None,
    timeout: float = 30.0,
) -> list[Record]:
    """Read `topic` from the beginning with a fresh consumer (all partitions, no group).

    Stops as soon as `until(records)` holds, or, without `until`, when every partition has been
    read to its end. Returns what was read when the deadline passes first; the caller asserts.
    """
    deadline = time.monotonic() + timeout
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"consume-all-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    records: list[Record] = []
    try:
        partitions = _wait_for_partitions(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        while time.monotonic() < deadline:
            if until is not None and until(records):
                break
            if until is None and at_end >= set(partitions):
                break
            msg = consumer.poll(min(0.5, max(0.0, deadline - time.monotonic())))
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                    continue
                if err.fatal():
                    raise KafkaException(err)
                continue  # transient (e.g. broker restarting): librdkafka retries
            record = _to_record(msg)
            at_end.discard(record.partition)
            records.append(record)
    finally:
        consumer.close()
    return records


def _to_record(msg: Message) -> Record:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None  # set on every consumed message
    headers = msg.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return Record(
        topic=msg.topic() or "",
        partition=partition,
        offset=offset,
        key=msg.key(),
        value=msg.value(),
        timestamp_ms=msg.timestamp()[1],
        headers=tuple((k, v.encode() if isinstance(v, str) else v) for k, v in pairs),
    )


def _wait_for_partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"topic {topic!r} has no metadata on the broker")
        try:
            meta = consumer.list_topics(topic=topic, timeout=min(5.0, remaining)).topics[topic]
        except KafkaException:
            continue
        if meta.error is None and meta.partitions:
            return sorted(meta.partitions)
        time.sleep(0.05)  # poll interval, bounded by the deadline
