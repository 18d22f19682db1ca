"""A compressed batch librdkafka cannot unpack is fetched and refused forever; the source makes
each of its messages a dead letter (after a second failure) and reads on. librdkafka names the
batch's first offset however far into it the consumer asks: a fake consumer does the same."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition

from features.contract.decoding import decode_event
from features.contract.events import DeadLetter
from flows.connectors import kafka

BAD = range(5, 8)  # one batch of three messages that cannot be decompressed
END = 10


class BombConsumer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.position = 0

    def assign(self, parts: list[TopicPartition]) -> None:
        self.position = max(parts[0].offset, 0)

    def seek(self, part: TopicPartition) -> None:
        self.position = part.offset

    def consume(self, n: int, timeout: float) -> list[Any]:
        out: list[Any] = []
        while len(out) < n and self.position < END:
            if self.position in BAD:  # the batch's first offset, then nothing more this poll
                error = KafkaError(KafkaError._BAD_COMPRESSION, "Decompression failed")
                return [*out, SimpleNamespace(error=lambda e=error: e, offset=lambda: BAD[0],
                                              value=lambda: b"Decompression failed")]
            at = self.position
            out.append(SimpleNamespace(error=lambda: None, offset=lambda at=at: at,
                                       value=lambda at=at: b'{"n":%d}' % at, key=lambda: b"r"))
            self.position += 1
        return out

    def list_topics(self, topic: str, timeout: float) -> Any:
        parts = {0: None}
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=parts)})

    def get_watermark_offsets(self, part: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, END

    def close(self) -> None:
        pass


def test_every_message_of_a_batch_that_cannot_be_unpacked_is_a_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka, "Consumer", BombConsumer)
    part = kafka._Partition("b:9092", "events", 0, resume=None, batch_size=100, on_lag=None)
    read = []
    for _ in range(20):
        read += part.next_batch()
        if part.snapshot() == END:
            break
    assert [record[0].offset for record in read] == list(range(END))
    letters = [decode_event(r[1], r[0]) for r in read[BAD[0]:BAD[-1] + 1]]
    assert all(isinstance(d, DeadLetter) and d.reason == "too_large" for d in letters)
    assert "could not decompress this message (its batch from offset 5" in letters[0].error
    assert [r[1] for r in read[BAD[-1] + 1:]] == [b'{"n":8}', b'{"n":9}']
