"""The bench's fanout measurement: one showcase change to a very large room, end to end.

Time runs from the source reading the batch that holds the showcase to the sink returning
from writing the last of its pushes (file, or Kafka when a broker is given).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import (
    DynamicSink,
    FixedPartitionedSink,
    StatefulSinkPartition,
    StatelessSinkPartition,
)

from flows.bench.dataflows import T0, bench_settings, create_topics, delete_topics, fresh_topic
from flows.connectors.files import JsonlSink, JsonlSource, Messages, RawRecord


def fanout_lines(viewers: int, items: int = 50, room_id: str = "fanout-room") -> list[bytes]:
    """``viewers`` enter a room within a minute (no showcase yet, so no pushes), then one
    showcase change, then one heartbeat 2.001 s later that lets the reorder buffer release it."""
    lines = []
    for n in range(viewers):
        attrs = {"spend_tier": n % 6} if n % 2 else {}
        lines.append(orjson.dumps({
            "event_id": f"f-in-{n}", "type": "enter", "ts": T0 + n * 60_000 // max(viewers, 1),
            "room_id": room_id, "user_id": f"u-{n:07d}", "attrs": attrs,
        }))
    show_ts = T0 + 61_000
    lines.append(orjson.dumps({
        "event_id": "f-showcase", "type": "showcase", "ts": show_ts, "room_id": room_id,
        "spotlight": "sku-0007",
        "items": [{"item_id": f"sku-{j:04d}", "price": 10.0 + j, "category": f"c{j % 8}"}
                  for j in range(items)],
    }))
    lines.append(orjson.dumps({
        "event_id": "f-tick", "type": "heartbeat", "ts": show_ts + 2_001, "room_id": room_id,
        "user_id": "u-0000000", "watch_ms": 30_000,
    }))
    return lines


class _TimedFixedSink(FixedPartitionedSink[Messages, None]):
    def __init__(self, inner: JsonlSink, marks: list[tuple[float, int]]) -> None:
        self.inner, self.marks = inner, marks

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def part_fn(self, item_key: str) -> int:
        return self.inner.part_fn(item_key)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> Any:
        return _TimedStatefulPart(self.inner.build_part(step_id, for_part, resume_state),
                                  self.marks)


class _TimedStatefulPart(StatefulSinkPartition[Messages, None]):
    def __init__(self, inner: StatefulSinkPartition[Messages, None],
                 marks: list[tuple[float, int]]) -> None:
        self.inner, self.marks = inner, marks

    def write_batch(self, values: list[Messages]) -> None:
        self.inner.write_batch(values)
        self.marks.append((time.monotonic(), sum(len(m) for m in values)))

    def snapshot(self) -> None:
        return self.inner.snapshot()

    def close(self) -> None:
        self.inner.close()


class _TimedDynamicSink(DynamicSink[tuple[str, Messages]]):
    def __init__(self, inner: DynamicSink[tuple[str, Messages]],
                 marks: list[tuple[float, int]]) -> None:
        self.inner, self.marks = inner, marks

    def build(self, step_id: str, worker_index: int, worker_count: int) -> Any:
        return _TimedStatelessPart(self.inner.build(step_id, worker_index, worker_count),
                                   self.marks)


class _TimedStatelessPart(StatelessSinkPartition[tuple[str, Messages]]):
    def __init__(self, inner: StatelessSinkPartition[tuple[str, Messages]],
                 marks: list[tuple[float, int]]) -> None:
        self.inner, self.marks = inner, marks

    def write_batch(self, items: list[tuple[str, Messages]]) -> None:
        self.inner.write_batch(items)
        self.marks.append((time.monotonic(), sum(len(m) for _, m in items)))

    def close(self) -> None:
        self.inner.close()


class _BoundedSource(FixedPartitionedSource[RawRecord, int]):
    """A Kafka source that ends after ``total`` records (the topic's whole content)."""

    def __init__(self, inner: Any, total: int) -> None:
        self.inner, self.total = inner, total

    def list_parts(self) -> list[str]:
        return list(self.inner.list_parts())

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> Any:
        return _BoundedPart(self.inner.build_part(step_id, for_part, resume_state), self.total)


class _BoundedPart(StatefulSourcePartition[RawRecord, int]):
    def __init__(self, inner: Any, total: int) -> None:
        self.inner, self.total, self.seen = inner, total, 0

    def next_batch(self) -> list[RawRecord]:
        if self.seen >= self.total:
            raise StopIteration
        batch: list[RawRecord] = self.inner.next_batch()
        self.seen += len(batch)
        return batch

    def next_awake(self) -> Any:
        return self.inner.next_awake()

    def snapshot(self) -> int:
        return int(self.inner.snapshot())

    def close(self) -> None:
        self.inner.close()


@dataclass(slots=True)
class Fanout:
    viewers: int
    total_ms: float  # source read the showcase's batch -> sink returned from writing its pushes
    to_encoded_ms: float  # ... -> pushes encoded (decode, room, ranking, encode)
    sink_ms: float  # encoded -> sink returned (file write + flush, or Kafka produce + acks)
    batch: Any = field(default=None, repr=False)  # the PushBatch, for encode_ms


def run_fanout(viewers: int, lines: list[bytes], workdir: Path, brokers: str | None = None,
               topic: str | None = None) -> Fanout:
    """The full job (``build_flow`` with the job's metrics recorder) over the fanout room."""
    from flows.connectors.kafka import KafkaEventSource, KafkaMessagesSink
    from flows.dataflow import build_flow
    from flows.jobs import execute
    from flows.metrics import Recorder

    settings = bench_settings()
    marks: list[tuple[float, int]] = []
    seen: list[tuple[float, float, Any]] = []
    record = Recorder()

    def observe(item: Any) -> None:
        record(item)
        if hasattr(item, "read_at") and len(item) >= viewers:
            seen.append((item.read_at, time.monotonic(), item))

    if brokers is None:
        path = workdir / "fanout-events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        out = workdir / "fanout-pushes.jsonl"
        out.unlink(missing_ok=True)
        source: Any = JsonlSource(str(path), settings.batch_size)
        sink: Any = _TimedFixedSink(JsonlSink(str(out)), marks)
    else:
        assert topic is not None
        source = _BoundedSource(KafkaEventSource(brokers, topic, settings.batch_size), len(lines))
        out_topic = fresh_topic("fanout-out")
        create_topics(brokers, {out_topic: settings.partitions})
        sink = _TimedDynamicSink(KafkaMessagesSink(brokers, out_topic), marks)
    dead = JsonlSink(os.devnull)  # the fanout input has no dead letters
    execute(build_flow(settings, source, sink, dead, observe), settings)
    if brokers is not None:
        delete_topics(brokers, [out_topic])
    if len(seen) != 1:
        raise RuntimeError(f"expected one push batch of {viewers} viewers, saw {len(seen)}")
    read_at, encoded_at, batch = seen[0]
    written_at = next(t for t, n in marks if n >= viewers)
    return Fanout(viewers, (written_at - read_at) * 1000, (encoded_at - read_at) * 1000,
                  (written_at - encoded_at) * 1000, batch)


def time_encode(batch: Any, repeats: int) -> float:
    """Best wall time (ms) of ``encode_pushes`` for one PushBatch."""
    from features.contract.messages import encode_pushes

    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        encode_pushes(batch, emitted_at=int(time.time() * 1000))
        best = min(best, time.perf_counter() - start)
    return best * 1000
