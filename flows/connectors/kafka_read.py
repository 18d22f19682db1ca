"""Read a topic once, from its beginning to where it ended when the read began.

The experiment readout (``roomrank experiment report --brokers``) reads the job's topics
as files: every record there is when it starts, none written after (it must end, even
while the job runs on), and no trace left on the cluster. So it asks each partition's end
offset first, assigns the partitions from their beginning (no consumer group: joining one
would rebalance or move the offsets of a real consumer), never commits, and stops when
every partition has reached its end. confluent-kafka wants a ``group.id`` even for
assign(); the one set here is never joined nor committed to.

Errors are the operator's: a broker that cannot be reached, a topic that does not exist,
a partition that stops delivering before its end, each within ``timeout_s``, is a
``ValueError`` naming the brokers, topic and partition (the CLI's one line, exit 2).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from features.contract.events import Origin
from flows.connectors.kafka_health import rdkafka_log

GROUP_ID = "roomrank-readout"  # required by the client; never joined nor committed to
_BATCH = 1000
_POLL_S = 0.5


def read_topic(brokers: str, topic: str, timeout_s: float = 30.0) -> Iterator[tuple[Origin, bytes]]:
    """Every record of ``topic`` up to its end offsets at the start, partition by partition
    interleaved as the broker delivers them, with the record's coordinates."""
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": GROUP_ID,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "logger": rdkafka_log,
    })
    try:
        yield from _read(consumer, brokers, topic, timeout_s)
    finally:
        consumer.close()


def _read(consumer: Consumer, brokers: str, topic: str,
          timeout_s: float) -> Iterator[tuple[Origin, bytes]]:
    try:
        listed = consumer.list_topics(timeout=timeout_s).topics  # all: never auto-creates
    except KafkaException as err:
        raise ValueError(f"could not reach Kafka at {brokers!r} in {timeout_s:g} s"
                         f" ({err.args[0].str()})") from None
    meta = listed.get(topic)
    if meta is None or meta.error is not None:
        raise ValueError(f"topic {topic!r} does not exist at {brokers!r}")
    ends: dict[int, int] = {}
    start: list[TopicPartition] = []
    for partition in sorted(meta.partitions):
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s)
        except KafkaException as err:
            raise ValueError(f"topic {topic!r} partition {partition}: no end offset from"
                             f" {brokers!r} in {timeout_s:g} s ({err.args[0].str()})") from None
        if high > low:
            ends[partition] = high
            start.append(TopicPartition(topic, partition, low))
    if not start:
        return
    consumer.assign(start)
    at = {tp.partition: tp.offset for tp in start}
    heard = time.monotonic()
    while ends:
        for msg in consumer.consume(_BATCH, _POLL_S):
            partition = msg.partition()
            if partition is None or partition not in ends:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    del ends[partition]  # at the end: nothing was written after ours
                    heard = time.monotonic()
                elif error.fatal():
                    raise ValueError(f"topic {topic!r} partition {partition}: {error.str()}")
                continue  # transient: librdkafka retries
            offset = msg.offset()
            if offset is None:
                continue
            if offset >= ends[partition]:
                del ends[partition]  # written after the read began
                continue
            at[partition] = offset + 1
            heard = time.monotonic()  # progress: only records and ends count, not errors
            yield Origin(topic, partition, offset), msg.value() or b""
            if offset + 1 >= ends[partition]:
                del ends[partition]
        if ends and time.monotonic() - heard > timeout_s:
            late = ", ".join(f"{p} at offset {at[p]} of {end}" for p, end in sorted(ends.items()))
            raise ValueError(f"topic {topic!r}: nothing delivered for {timeout_s:g} s before"
                             f" the end (partition {late}); is {brokers!r} up?")
