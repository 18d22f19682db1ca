"""Play a stream of events into a Kafka topic, paced by their event time or as fast as the
broker takes them: how ``roomrank simulate --brokers`` lets Kafka mode be tried with nothing
but this package (the events come from the caller; this module knows no simulator)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from confluent_kafka import KafkaError, Producer

from flows.connectors.kafka_topics import ensure_topics


def play(
    events: Iterable[dict[str, Any]],
    brokers: str,
    topic: str,
    partitions: int,
    speed: float | None = None,
) -> int:
    """Produce every event to ``topic`` keyed by its ``room_id`` (a room's events stay in one
    partition, in order); return how many. ``speed``: event-time seconds per wall second,
    or None for as fast as possible. Raises RuntimeError when the broker refuses a message."""
    ensure_topics(brokers, {topic: partitions})
    failed: list[str] = []

    def delivered(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5, "delivery.report.only.error": True,
                         "on_delivery": delivered})
    count, start_wall, start_ts = 0, time.monotonic(), None
    for event in events:
        if speed is not None:
            start_ts = event["ts"] if start_ts is None else start_ts
            wait = start_wall + (event["ts"] - start_ts) / 1000.0 / speed - time.monotonic()
            if wait > 0:
                producer.poll(0)
                time.sleep(wait)  # pacing to event time: the point of a paced replay
        key = str(event.get("room_id", "")).encode()
        while True:
            try:
                producer.produce(topic, orjson.dumps(event), key)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
        count += 1
    producer.flush()
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} events not delivered to {topic}: {failed[0]}")
    return count
