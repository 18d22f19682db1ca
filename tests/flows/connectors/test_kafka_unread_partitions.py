"""Partitions added to the input topic mid-run are not read until a restart; their messages
are the lag the metric reports (a red team saw 20,000 unread messages and a lag of 0, so
the lag alert could not fire)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from flows.connectors import kafka

ENDS = {0: (0, 40), 1: (0, 0), 2: (100, 20_100), 3: (0, 7)}  # partition: (low, high)


class GrowingConsumer:
    partitions = 2  # the topic's count, raised by the test

    def __init__(self, config: dict[str, Any]) -> None:
        pass

    def assign(self, parts: list[TopicPartition]) -> None:
        pass

    def list_topics(self, topic: str, timeout: float) -> Any:
        parts = dict.fromkeys(range(self.partitions))
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=parts)})

    def get_watermark_offsets(self, part: TopicPartition, timeout: float) -> tuple[int, int]:
        return ENDS[part.partition]


def test_the_unread_partitions_lag_by_all_they_hold(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(kafka, "Consumer", GrowingConsumer)
    lags: list[tuple[str, int, int]] = []
    part = kafka._Partition("b:9092", "events", 0, resume=None, batch_size=10,
                            on_lag=lambda *lag: lags.append(lag))
    part._recount(0.0)
    assert lags == []  # nothing added: the read partitions report their own lag
    monkeypatch.setattr(GrowingConsumer, "partitions", 4)
    with caplog.at_level(logging.WARNING, logger="roomrank.kafka"):
        part._recount(1.0)
        part._recount(2.0)
    assert lags == [("events", 2, 20_000), ("events", 3, 7)] * 2  # at every recount
    assert sum("now has 4 partitions, 2 when the job started" in r.getMessage()
               for r in caplog.records) == 1
