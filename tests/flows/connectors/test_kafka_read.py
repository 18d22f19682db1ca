"""Reading a topic to its end offsets, against a stub consumer (the real broker: the
integration tests of ``roomrank experiment report --brokers``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition

from flows.connectors.kafka_read import _read


class _Msg:
    def __init__(self, partition: int, offset: int | None, code: int | None = None) -> None:
        self._p, self._o = partition, offset
        self._e = None if code is None else KafkaError(code)

    def partition(self) -> int:
        return self._p

    def offset(self) -> int | None:
        return self._o

    def error(self) -> KafkaError | None:
        return self._e

    def value(self) -> bytes:
        return f"{self._p}:{self._o}".encode()


class _Consumer:
    """Partitions with (low, high) offsets; ``batches`` are what consume() returns in turn."""

    def __init__(self, marks: dict[int, tuple[int, int]], batches: list[list[_Msg]]) -> None:
        self.marks, self.batches, self.assigned = marks, batches, []

    def list_topics(self, timeout: float) -> Any:
        meta = SimpleNamespace(partitions=dict.fromkeys(self.marks), error=None)
        return SimpleNamespace(topics={"t": meta})

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return self.marks[tp.partition]

    def assign(self, parts: list[TopicPartition]) -> None:
        self.assigned = [(tp.partition, tp.offset) for tp in parts]

    def consume(self, n: int, timeout: float) -> list[_Msg]:
        return self.batches.pop(0) if self.batches else []


def _offsets(consumer: _Consumer, timeout: float = 5.0) -> list[tuple[int, int]]:
    return [(o.partition, o.offset) for o, _ in _read(consumer, "b:1", "t", timeout)]  # type: ignore[arg-type]


def test_each_partition_is_read_from_its_start_to_its_end_at_the_start() -> None:
    consumer = _Consumer(
        {0: (0, 2), 1: (5, 7), 2: (3, 3)},  # partition 2 is empty: not even assigned
        [[_Msg(0, 0), _Msg(1, 5)],
         [_Msg(0, 1), _Msg(0, 2), _Msg(1, 6), _Msg(1, 7)]],  # 0:2 and 1:7 came later
    )
    assert _offsets(consumer) == [(0, 0), (1, 5), (0, 1), (1, 6)]
    assert consumer.assigned == [(0, 0), (1, 5)]


def test_a_partition_at_its_end_stops_the_wait_for_it() -> None:
    """Offsets can have gaps (compaction, transaction markers): the end of the log ends it."""
    consumer = _Consumer({0: (0, 5)}, [[_Msg(0, 0), _Msg(0, 2)],
                                       [_Msg(0, None, KafkaError._PARTITION_EOF)]])
    assert _offsets(consumer) == [(0, 0), (0, 2)]


def test_a_partition_that_stops_delivering_is_an_error_naming_it() -> None:
    consumer = _Consumer({0: (0, 2), 1: (0, 1)}, [[_Msg(0, 0), _Msg(1, 0)]])
    with pytest.raises(ValueError, match=r"nothing delivered for 0.2 s before the end "
                                         r"\(partition 0 at offset 1 of 2\); is 'b:1' up\?"):
        _offsets(consumer, timeout=0.2)


class _Failing(_Consumer):
    def consume(self, n: int, timeout: float) -> list[_Msg]:
        return [_Msg(0, None, KafkaError._TRANSPORT)]  # forever


def test_transient_errors_are_not_progress() -> None:
    with pytest.raises(ValueError, match="nothing delivered"):
        _offsets(_Failing({0: (0, 1)}, []), timeout=0.05)


def test_a_missing_topic_is_named() -> None:
    consumer = _Consumer({}, [])
    with pytest.raises(ValueError, match="topic 'other' does not exist at 'b:1'"):
        list(_read(consumer, "b:1", "other", 1.0))  # type: ignore[arg-type]
