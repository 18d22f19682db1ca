"""The bench's dataflow measurements: the job against a bare Bytewax flow, and fanout.

Throughput runs each flow in a child process (``python -m flows.bench.dataflows``), started the
way ``roomrank run`` starts the job (``flows.jobs.prepare`` + ``flows.jobs.execute``, i.e.
``bytewax.run.cli_main`` with one worker). The child times ``execute`` alone, so Python's
start-up and imports are not counted, the same for both flows. In Kafka mode the flows never
end: the parent reads the output topic and stops the clock when every expected output has
been read (counted from the child's "ready" timestamp; ``time.monotonic`` is system-wide).

Fanout runs the job in this process and times one showcase change of a big room from the
source reading it to the sink returning from the write of its pushes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from bytewax.dataflow import Dataflow, Stream
from bytewax.operators import StatefulBatchLogic

from flows.connectors.files import JsonlSink, JsonlSource, Messages, RawRecord
from flows.settings import Settings

T0 = 1_764_331_200_000


def bench_settings(**overrides: Any) -> Settings:
    """The job's defaults, ignoring ``ROOMRANK_*`` in the environment (reproducible)."""
    return Settings.load({"log_level": "WARNING", "metrics_port": 0, **overrides}, env={})


# -- the bare flow -----------------------------------------------------------------------------


def _room_of(record: RawRecord) -> str:
    try:
        return str(orjson.loads(record[1]).get("room_id", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


def _as_message(keyed: tuple[str, RawRecord]) -> tuple[str, Messages]:
    room, record = keyed
    return room, [(room.encode(), record[1])]


def passthrough_flow(source: Any, sink: Any) -> Dataflow:
    """Read raw events, key them by room (parse the JSON for ``room_id``), write them out."""
    import bytewax.operators as op

    flow = Dataflow("passthrough")
    raw = op.input("read", flow, source)
    keyed = op.key_on("key_room", raw, _room_of)
    op.output("write", op.map("to_message", keyed, _as_message), sink)
    return flow


# -- the job's engine wiring without the job ---------------------------------------------------


class _CountEvents(StatefulBatchLogic[Any, str, None]):
    """A room that only counts: one output per batch it is handed, the batch's size (a few
    thousand outputs for the bench's 219,091 events; Kafka runs need outputs to know they
    are done). What is left of ``RoomLogic`` without ``Room``."""

    def on_batch(self, values: list[Any]) -> tuple[list[str], bool]:
        return [str(len(values))], StatefulBatchLogic.RETAIN

    def snapshot(self) -> None:
        return None


def event_count(value: bytes) -> int:
    """How many events one output of the skeleton stands for."""
    return int(value)


def skeleton_flow(source: Any, sink: Any, max_message_bytes: int) -> Dataflow:
    """The job's wiring up to its rooms (decode, drop dead letters, key by room, a stateful
    step per room) with rooms that only count: how fast the engine and the decoder alone
    go, so the bench can say how much time per event that leaves the rooms."""
    import bytewax.operators as op

    from features.contract.decoding import decode_event
    from features.contract.events import Event

    flow = Dataflow("skeleton")
    raw = op.input("read", flow, source)
    decoded = op.map("decode", raw, lambda r: decode_event(r[1], r[0], max_message_bytes))
    valid = op.branch("valid", decoded, lambda x: isinstance(x, Event))
    rooms = op.key_on("key_room", cast(Stream[Event], valid.trues), lambda e: e.room_id)
    counts = op.stateful_batch("room", rooms, lambda _resume: _CountEvents())
    op.output("write", op.map("to_message", counts,
                              lambda kv: (kv[0], [(kv[0].encode(), kv[1].encode())])), sink)
    return flow


# -- child process -----------------------------------------------------------------------------


def _child(argv: list[str]) -> int:
    from flows.connectors.kafka import KafkaEventSource, KafkaMessagesSink
    from flows.jobs import execute, file_flow, kafka_flow, prepare

    parser = argparse.ArgumentParser(prog="python -m flows.bench.dataflows")
    parser.add_argument("--flow", choices=("passthrough", "skeleton", "job"), required=True)
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--dead-letters")
    parser.add_argument("--brokers")
    parser.add_argument("--topics", nargs=3, metavar=("IN", "OUT", "DEAD"))
    args = parser.parse_args(argv)
    if args.brokers:
        topic_in, topic_out, topic_dead = args.topics
        settings = bench_settings(brokers=args.brokers, input_topic=topic_in,
                                  output_topic=topic_out, dead_letter_topic=topic_dead)
    else:
        settings = bench_settings()
    prepare(settings)
    if args.flow == "job":
        flow = (kafka_flow(settings) if args.brokers
                else file_flow(settings, args.input, args.output, args.dead_letters))
    elif args.flow == "skeleton" and args.brokers:
        flow = skeleton_flow(KafkaEventSource(args.brokers, topic_in, settings.batch_size),
                             KafkaMessagesSink(args.brokers, topic_out),
                             settings.max_message_bytes)
    elif args.flow == "skeleton":
        flow = skeleton_flow(JsonlSource(args.input, settings.batch_size), JsonlSink(args.output),
                             settings.max_message_bytes)
    elif args.brokers:
        flow = passthrough_flow(KafkaEventSource(args.brokers, topic_in, settings.batch_size),
                                KafkaMessagesSink(args.brokers, topic_out))
    else:
        flow = passthrough_flow(JsonlSource(args.input, settings.batch_size),
                                JsonlSink(args.output))
    print(json.dumps({"ready": time.monotonic()}), flush=True)
    start = time.perf_counter()
    execute(flow, settings)
    print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
    return 0


def _child_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.bench.dataflows", *args]


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMRANK_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


@dataclass(slots=True)
class FileRun:
    seconds: float
    outputs: int  # output lines; for the skeleton, the events they stand for


def run_file_flow(kind: str, input_path: Path, workdir: Path, timeout: float = 3600) -> FileRun:
    out, dead = workdir / f"{kind}-out.jsonl", workdir / f"{kind}-dead.jsonl"
    for path in (out, dead):
        path.unlink(missing_ok=True)
    done = subprocess.run(
        _child_command("--flow", kind, "--input", str(input_path), "--output", str(out),
                       "--dead-letters", str(dead)),
        env=_child_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} flow failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    if kind == "skeleton":
        with out.open("rb") as fh:
            return FileRun(seconds, sum(event_count(line) for line in fh if line.strip()))
    return FileRun(seconds, _count_lines(out))


# -- Kafka -------------------------------------------------------------------------------------


def fresh_topic(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:10]}"


def create_topics(brokers: str, topics: dict[str, int], timeout: float = 60.0) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})
    futures = admin.create_topics([NewTopic(t, p, 1) for t, p in topics.items()],
                                  operation_timeout=timeout, request_timeout=timeout)
    for future in futures.values():
        future.result(timeout)
    deadline = time.monotonic() + timeout
    for topic, partitions in topics.items():
        while True:
            meta = admin.list_topics(topic=topic, timeout=10).topics.get(topic)
            if meta is not None and meta.error is None and len(meta.partitions) == partitions \
                    and all(p.leader >= 0 for p in meta.partitions.values()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} not ready on {brokers}")
            time.sleep(0.05)


def delete_topics(brokers: str, topics: list[str]) -> None:
    from confluent_kafka.admin import AdminClient

    if topics:
        for future in AdminClient({"bootstrap.servers": brokers}).delete_topics(topics).values():
            with contextlib.suppress(Exception):  # best effort: the names are unique
                future.result(30)


def produce_lines(brokers: str, topic: str, lines: list[bytes]) -> float:
    """Produce raw lines keyed by ``room_id`` (as the contract says); returns seconds."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                         "linger.ms": 20, "compression.type": "lz4"})
    failed: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    start = time.perf_counter()
    for line in lines:
        key = orjson.loads(line)["room_id"].encode()
        while True:
            try:
                producer.produce(topic, line, key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    while producer.flush(5.0):
        pass
    if failed:
        raise RuntimeError(f"could not produce the bench input: {failed[:3]}")
    return time.perf_counter() - start


def _output_consumer(brokers: str, topic: str, partitions: int) -> Any:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    return consumer


@dataclass(slots=True)
class KafkaRun:
    seconds: float
    outputs: int
    complete: bool


def run_kafka_flow(
    kind: str, brokers: str, topic_in: str, partitions: int, expected: int, timeout: float
) -> KafkaRun:
    """Start the flow on ``topic_in`` (already filled); time until ``expected`` outputs are
    read back from a fresh output topic (for the skeleton: outputs standing for ``expected``
    events)."""
    weigh = (lambda m: event_count(m.value())) if kind == "skeleton" else (lambda _m: 1)
    topic_out, topic_dead = fresh_topic(f"{kind}-out"), fresh_topic(f"{kind}-dead")
    create_topics(brokers, {topic_out: partitions, topic_dead: partitions})
    consumer = _output_consumer(brokers, topic_out, partitions)
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            _child_command("--flow", kind, "--brokers", brokers,
                           "--topics", topic_in, topic_out, topic_dead),
            env=_child_env(), stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                stderr.seek(0)
                raise RuntimeError(f"{kind} flow did not start:\n{stderr.read()[-2000:]!r}")
            started = float(json.loads(line)["ready"])
            count, deadline = 0, time.monotonic() + timeout
            while count < expected and time.monotonic() < deadline:
                count += sum(weigh(m) for m in consumer.consume(10_000, 0.1) if m.error() is None)
                if proc.poll() is not None:
                    stderr.seek(0)
                    raise RuntimeError(f"{kind} flow exited:\n{stderr.read()[-2000:]!r}")
            seconds = time.monotonic() - started
        finally:
            consumer.close()
            _stop(proc)
    delete_topics(brokers, [topic_out, topic_dead])
    return KafkaRun(seconds, count, count >= expected)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- fanout ------------------------------------------------------------------------------------


def world_file(
    path: Path, rooms: int, viewers: int, minutes: float, seed: int = 1, lateness_ms: int = 2_000
) -> int:
    """A simulated world as JSONL, plus one trailing heartbeat per room (from the user
    ``bench-clock``, ``lateness_ms`` + 1 after the room's last event) so that a stream that
    never ends (Kafka) releases every event the file mode's end-of-input flush would:
    both modes then push exactly the same. Returns the number of lines."""
    from models.sim.world import iter_world

    last: dict[str, int] = {}
    count = 0
    with path.open("wb") as fh:
        for event in iter_world(seed, rooms, viewers, minutes):
            fh.write(orjson.dumps(event) + b"\n")
            room = event["room_id"]
            last[room] = max(last.get(room, 0), event["ts"])
            count += 1
        for room, ts in sorted(last.items()):
            fh.write(orjson.dumps({
                "event_id": f"bench-clock-{room}", "type": "heartbeat", "room_id": room,
                "ts": ts + lateness_ms + 1, "user_id": "bench-clock", "watch_ms": 0,
            }) + b"\n")
            count += 1
    return count


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
