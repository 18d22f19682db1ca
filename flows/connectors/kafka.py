"""Kafka mode: room events in, pushes and dead letters out, through confluent-kafka.

The source assigns partitions (no consumer group) and keeps its offset in Bytewax's
recovery snapshots, like Bytewax's own connector, but it never lets a transport error move
the resume offset (the stock connector records an error's offset, which after a broker
outage can make a restart skip messages). Errors are logged and librdkafka reconnects; a
broker restart is waited out, logged when the broker goes and when it is back, and a
partition that stops fetching after it gets a new consumer (``kafka_health``). The sinks use
an idempotent producer with no delivery timeout and flush after every batch, so an
epoch's pushes are in Kafka before its snapshot: output is at-least-once, and repeats
carry the same ``rec_id``. A dead letter too large for one Kafka message (its ``raw`` is
the whole rejected input, JSON-escaped) is cut to fit instead of stopping the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from features.contract.events import Origin, UnreadMessage
from flows.connectors.files import Messages, RawRecord
from flows.connectors.kafka_health import (
    SILENT_CHECKS,
    STALL_SECS,
    STALLED,
    BrokerWatch,
    StallWatch,
    client_config,
)
from flows.connectors.kafka_topics import admin_config
from flows.input_keys import KeyedRecord
from flows.lifecycle import STOP, end_now

log = logging.getLogger("roomrank.kafka")

LagCallback = Callable[[str, int, int], None]
_IDLE_WAIT = timedelta(milliseconds=20)
_FLUSH_LOG_SECS = 10.0
RECOUNT_SECS = 30.0  # how often partition 0 asks how many partitions the input topic has


class _Partition(StatefulSourcePartition[RawRecord | KeyedRecord, int]):
    def __init__(
        self,
        brokers: str,
        topic: str,
        partition: int,
        resume: int | None,
        batch_size: int,
        on_lag: LagCallback | None,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._next = resume if resume is not None else OFFSET_BEGINNING
        self._batch_size = batch_size
        self._on_lag = on_lag
        self._idle = False
        self._last_error = 0.0
        self._failed_at = -1  # the offset that last failed to decompress
        self._bad_batch = -1  # the first offset of a batch that failed twice
        self._broker = BrokerWatch(f"{topic}[{partition}]")
        self._stall = StallWatch(self._watermarks)
        config: dict[str, Any] = {
            "bootstrap.servers": brokers,
            "group.id": "roomrank-unused",  # offsets live in recovery snapshots
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            **client_config(self._broker, self._stats),
        }
        self._config = config
        self._consumer = self._connect()
        # Partition 0 watches the topic's partition count: the engine lists partitions once,
        # at start, so partitions added later go unread until a restart; say so, once.
        self._partitions = self._count_partitions() if partition == 0 else None
        self._started_with = self._partitions  # the ones past it are not read: all lag
        self._recount_at = time.monotonic() + RECOUNT_SECS

    def _connect(self) -> Any:
        consumer = Consumer(self._config)
        consumer.assign([TopicPartition(self._topic, self._partition, self._next)])
        return consumer

    def _count_partitions(self) -> int | None:
        try:
            # Not asked while the broker is lost (``next_batch``): the wait would hold the worker.
            topic = self._consumer.list_topics(self._topic, timeout=2.0).topics.get(self._topic)
        except KafkaException:
            return None
        return len(topic.partitions) if topic is not None and topic.error is None else None

    def _recount(self, now: float) -> None:
        self._recount_at = now + RECOUNT_SECS
        count = self._count_partitions()
        if count is None or self._partitions is None:
            self._partitions = self._partitions or count
            self._started_with = self._started_with or count
            return
        if count > self._partitions:
            log.warning(
                "Kafka %s now has %d partitions, %d when the job started: the new ones are not"
                " read until the job restarts (restart it; rooms keyed to them wait till then)",
                self._topic, count, self._partitions,
            )  # fmt: skip
            self._partitions = count
        self._unread_lag(count)

    def _unread_lag(self, count: int) -> None:
        """Everything on the partitions added since the start is unread: that is their lag,
        so the lag metric and its alert see the rooms waiting there, not only the warning."""
        if self._on_lag is None or self._started_with is None:
            return
        for partition in range(self._started_with, count):
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, partition), timeout=2.0
                )
            except KafkaException:
                continue
            self._on_lag(self._topic, partition, max(int(high) - int(low), 0))

    def _watermarks(self) -> tuple[int, int] | None:
        try:
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self._topic, self._partition), timeout=2.0
            )
        except KafkaException:
            return None
        return int(low), int(high)

    def _stats(self, stats: dict[str, Any]) -> None:
        try:
            part = stats["topics"][self._topic]["partitions"][str(self._partition)]
            end = int(part["ls_offset"])
        except (KeyError, ValueError, TypeError):
            return
        if end >= 0 and self._on_lag is not None:
            position = self._next if self._next >= 0 else int(part.get("lo_offset", 0))
            self._on_lag(self._topic, self._partition, max(end - position, 0))

    def next_batch(self) -> list[RawRecord | KeyedRecord]:
        if STOP.is_set():  # graceful stop: end of input, so the last epoch is snapshotted
            raise StopIteration
        messages = self._consumer.consume(self._batch_size, 0)
        now = time.monotonic()
        if self._partition == 0 and now >= self._recount_at and not self._broker.lost:
            self._recount(now)
        batch: list[RawRecord | KeyedRecord] = []
        for message in messages:
            error = message.error()
            if error is not None and error.code() == KafkaError._BAD_COMPRESSION:
                unread = self._undecompressed(message, now)
                if unread is not None:  # a dead letter; read on after it (the seek)
                    batch.append(unread)
                    break
            if error is not None:
                if error.fatal():
                    raise RuntimeError(f"fatal Kafka error on {self._topic}: {error}")
                if now - self._last_error > 10.0:  # one line per outage, not per poll
                    log.warning("Kafka %s[%d]: %s (retrying)", self._topic, self._partition, error)
                    self._last_error = now
                continue
            offset = message.offset()
            if offset is None:
                continue
            batch.append((Origin(self._topic, self._partition, offset), message.value() or b"",
                          now, message.key()))
            self._next = offset + 1
        self._idle = not batch
        if batch:
            self._stall.progressed()
            self._broker.on_message()
        else:
            verdict = self._stall.check(self._next, self._broker.lost)
            if verdict is not None:
                self._replace_consumer(verdict)
        return batch

    def _undecompressed(self, message: Any, now: float) -> RawRecord | None:
        """A dead letter for the message at our position when librdkafka cannot decompress
        its batch (a compression bomb: kilobytes on the wire, hundreds of megabytes unpacked;
        or corrupt bytes), else None. Such a batch is fetched and refused again forever,
        holding back every later event of the partition. librdkafka names the batch's first
        offset however far into the batch we ask, so the first failure at our position may
        be a transient fault of the fetch, the second makes the batch bad; from then on each
        of its offsets, one per fetch, is a dead letter (the batch's end is not reported),
        and reading goes on after it. (A red team's helper found the batch rule.)"""
        base = message.offset()
        if base is None or base < 0:
            return None
        at = max(base, self._next)
        if self._bad_batch != base:
            if self._failed_at != at:
                self._failed_at = at
                return None
            self._bad_batch = base
        self._failed_at = -1
        self._next = at + 1
        self._consumer.seek(TopicPartition(self._topic, self._partition, self._next))
        said = (message.value() or b"").decode(errors="replace")
        log.warning("Kafka %s[%d]: the message at offset %d (its batch from offset %d) cannot be"
                    " decompressed (%s); dead-lettered, reading on", self._topic,
                    self._partition, at, base, said)
        why = (f"the job's Kafka client could not decompress this message (its batch from"
               f" offset {base}: {said}), twice: it unpacks to more than a consumer may hold"
               " (a compression bomb), or its compressed bytes are corrupt. Send each event as"
               " its own message of at most --max-message-bytes once unpacked")
        return Origin(self._topic, self._partition, at), UnreadMessage(why), now

    def _replace_consumer(self, verdict: str) -> None:
        """A new consumer at our position for a partition that stopped fetching, or whose
        client stopped hearing from a broker it never saw go (see ``kafka_health``)."""
        why = (
            f"nothing fetched for {STALL_SECS:.0f} s although the broker holds messages"
            if verdict == STALLED
            else f"no answer from the broker for {SILENT_CHECKS * STALL_SECS:.0f} s although"
            " it was not seen to go"
        )
        log.warning(
            "Kafka %s[%d]: %s; reconnecting the partition at offset %d",
            self._topic, self._partition, why, self._next,
        )  # fmt: skip
        old, self._consumer = self._consumer, self._connect()
        old.close()

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + _IDLE_WAIT if self._idle else None

    def snapshot(self) -> int:
        return self._next

    def close(self) -> None:
        self._consumer.close()


class KafkaEventSource(FixedPartitionedSource[RawRecord | KeyedRecord, int]):
    """Every partition of the input topic; a partition is read by one worker."""

    def __init__(
        self, brokers: str, topic: str, batch_size: int = 1000, on_lag: LagCallback | None = None
    ) -> None:
        self.brokers = brokers
        self.topic = topic
        self.batch_size = batch_size
        self.on_lag = on_lag

    def list_parts(self) -> list[str]:
        admin = AdminClient(admin_config(self.brokers))
        meta = admin.list_topics(self.topic, timeout=30)
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise RuntimeError(f"input topic {self.topic!r} is missing on {self.brokers}")
        return [str(p) for p in sorted(topic.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Partition:
        return _Partition(
            self.brokers, self.topic, int(for_part), resume_state, self.batch_size, self.on_lag
        )


# A dead letter's ``raw`` is the whole rejected input, JSON-escaped (a quote doubles, a control
# character becomes six bytes, non-UTF-8 bytes grow by a third as base64): it can exceed what
# one Kafka message may hold (librdkafka's message.max.bytes is 1,000,000; the broker's default
# max.message.bytes 1,048,588) even when the input fitted.
DEAD_LETTER_MAX_BYTES = 900_000


def fit_dead_letter(value: bytes, limit: int = DEAD_LETTER_MAX_BYTES) -> bytes:
    """The dead letter ``value``, with ``raw`` cut to its longest prefix that fits ``limit``.

    The cut is stated in ``error``, so the reader knows ``raw`` is not the whole input.

    >>> big = orjson.dumps({"topic": "t", "partition": 0, "offset": 7, "error": "too big",
    ...                     "raw": '"' * 5000})
    >>> small = orjson.loads(fit_dead_letter(big, 1000))
    >>> len(orjson.dumps(small)) <= 1000, small["raw"] == '"' * len(small["raw"])
    (True, True)
    >>> small["error"].startswith("too big [raw cut to its first ")
    True
    """
    if len(value) <= limit:
        return value
    letter = orjson.loads(value)
    raw, error = str(letter["raw"]), str(letter["error"])

    def build(n: int) -> bytes:
        note = (
            f"{error} [raw cut to its first {n} of {len(raw)} characters: the whole input"
            " does not fit in one Kafka message]"
        )
        return orjson.dumps({**letter, "error": note, "raw": raw[:n]})

    low, high = 0, len(raw)  # build(low) fits (the envelope alone is small); find the largest
    while low < high:
        mid = (low + high + 1) // 2
        if len(build(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    return build(low)


class _ProducerPartition(StatelessSinkPartition[tuple[str, Messages]]):
    def __init__(self, brokers: str, topic: str, fit: Callable[[bytes], bytes] | None) -> None:
        self._topic = topic
        self._fit = fit
        self._failed: list[str] = []
        self._broker = BrokerWatch(topic, confirm=True)  # polled only when it writes
        self._producer = Producer(
            {
                **client_config(self._broker),
                "bootstrap.servers": brokers,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 0,  # never give up: a broker outage is waited out
                "linger.ms": 5,
                "compression.type": "lz4",
                # One callback for the producer, and only for failures: flush() waits for
                # every message all the same, and a failure still fails the batch below.
                # A Python callable per message cost ~40% of producing + acking 100k pushes.
                "delivery.report.only.error": True,
                "on_delivery": self._delivered,
            }
        )

    def _delivered(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self._failed.append(str(err))

    def write_batch(self, items: list[tuple[str, Messages]]) -> None:
        produce, poll, fit = self._producer.produce, self._producer.poll, self._fit
        for _route, messages in items:
            for key, value in messages:
                if fit is not None:
                    value = fit(value)
                while True:
                    try:
                        produce(self._topic, value, key)
                        break
                    except BufferError:  # local queue full: let deliveries drain
                        poll(0.05)
            poll(0)
        # With message.timeout.ms=0 nothing expires: a broker outage is waited out here.
        remaining = self._producer.flush(_FLUSH_LOG_SECS)
        while remaining:
            log.warning("Kafka %s: %d messages not yet delivered; waiting", self._topic, remaining)
            remaining = self._producer.flush(_FLUSH_LOG_SECS)
        if self._failed:  # the topic deleted mid-run, a message past the broker's limit, ...
            end_now(f"Kafka refused messages for topic {self._topic!r} ({self._failed[0]};"
                    f" {len(self._failed)} in all): if the topic was deleted, the next run"
                    " creates it; otherwise mend what the broker says. The next run resumes"
                    " from the last snapshot and writes these again")
        if any(messages for _route, messages in items):
            # Delivered (acks=all): a loss said during the flush ends now, not at the next
            # statistics report, which a sink polled only when it writes may never serve.
            self._broker.on_message()

    def close(self) -> None:
        self._producer.flush()


class KafkaMessagesSink(DynamicSink[tuple[str, Messages]]):
    def __init__(
        self, brokers: str, topic: str, fit: Callable[[bytes], bytes] | None = None
    ) -> None:
        self.brokers = brokers
        self.topic = topic
        self.fit = fit

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self.brokers, self.topic, self.fit)


class KafkaDeadLetterSink(KafkaMessagesSink):
    """Dead letters, each cut to fit one Kafka message (``fit_dead_letter``)."""

    def __init__(self, brokers: str, topic: str) -> None:
        super().__init__(brokers, topic, fit_dead_letter)
