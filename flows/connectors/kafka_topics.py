"""The topics of Kafka mode: made when missing, with one line for what an operator can get
wrong (an unreachable broker, a topic the broker refuses), before anything is created."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from flows.connectors.kafka_health import rdkafka_log

log = logging.getLogger("roomrank.kafka")


def admin_config(brokers: str) -> dict[str, Any]:
    return {"bootstrap.servers": brokers, "logger": rdkafka_log}


def ensure_topics(brokers: str, topics: dict[str, int], timeout: float = 30.0) -> None:
    """Create missing topics with the given partition counts; existing ones are kept.

    Returns once the broker serves metadata (partitions with leaders) for every topic, so
    the source's ``list_parts`` right after never sees a topic that is created but not yet
    visible.
    """
    deadline = time.monotonic() + timeout
    admin = AdminClient(admin_config(brokers))
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as err:  # an operator's mistake, said in one line (exit 2)
        raise ValueError(
            f"could not reach Kafka at {brokers!r} in {timeout:g} s ({err.args[0].str()}):"
            " check --brokers (ROOMRANK_BROKERS) and that Kafka runs there"
        ) from None
    missing = [
        NewTopic(name, partitions) for name, partitions in topics.items() if name not in existing
    ]
    # Asked first without creating: a topic the broker refuses (its policy, a partition
    # count past its limit) is one line, and no other topic was created before it.
    for validate_only in (True, False) if missing else ():
        futures = admin.create_topics(missing, operation_timeout=timeout,
                                      validate_only=validate_only)
        for name, future in futures.items():
            try:
                future.result(timeout)
                if not validate_only:
                    log.info("created topic %s", name)
            except KafkaException as err:
                if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    partitions = topics[name]
                    raise ValueError(
                        f"Kafka at {brokers!r} refused to create topic {name!r} with"
                        f" {partitions} partitions ({err.args[0].str()}): check the topic"
                        " names and --partitions, or create the topic yourself"
                    ) from None
    while True:
        meta = admin.list_topics(timeout=max(deadline - time.monotonic(), 1.0)).topics
        waiting = [name for name in topics if not _served(meta.get(name))]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics {waiting} not served by {brokers} after {timeout:g} s")
        time.sleep(0.1)  # metadata propagation poll, bounded by the deadline


def _served(topic: Any) -> bool:
    return (
        topic is not None
        and topic.error is None
        and bool(topic.partitions)
        and all(p.leader >= 0 for p in topic.partitions.values())
    )
