"""The harness of the Kafka-mode job tests: the job as real processes, its topics, its input.

Shared by the test modules that run `roomrank run` against the real broker of
`tests/integration/conftest.py` (the `spawn` fixture is registered there). Nothing sleeps to
synchronise: every wait polls a condition (records on a topic, a process exit) against a
deadline and checks on the way that the jobs are still alive, so a crash fails fast with the
job's log.

The end of a finite stream in tail mode: a Kafka source never ends, and a room holds each
event until its event time has passed it by `lateness_ms`, so `end_markers` ends every room
still live with one heartbeat of a viewer who is in no other event, just past its last
event plus the lateness. It moves the room's watermark past every real event and cannot
trigger or join a push, since nothing comes after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from flows.settings import Settings
from tests.flows.helpers import stable

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROOMRANK = str(BIN / "roomrank") if (BIN / "roomrank").exists() else None
PARTITIONS = 4
LATENESS_MS = Settings.load(env={}).lateness_ms
END_OF_INPUT_USER = "end-of-input-marker"
SOURCE_STEP = "roomrank.read"  # Bytewax step id of the Kafka source: flow id + "read"

JOB_START = 90.0  # s: the job's imports take 3-5 s, much more on a busy 2-core machine
DEADLINE = 120.0  # s: any condition a test waits for

Pair = tuple[str, str]  # (trigger_id, user_id)



def end_markers(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One heartbeat per room without a room_close, just past its last event plus the
    lateness: see module doc."""
    last: dict[str, int] = {}
    closed = {event["room_id"] for event in events if event["type"] == "room_close"}
    for event in events:
        if event["room_id"] in closed:
            continue
        last[event["room_id"]] = max(event["ts"], last.get(event["room_id"], event["ts"]))
    return [
        {
            "event_id": f"end-of-input-{room}",
            "type": "heartbeat",
            "ts": ts + LATENESS_MS + 1,
            "room_id": room,
            "user_id": END_OF_INPUT_USER,
            "watch_ms": 0,
        }
        for room, ts in sorted(last.items())
    ]



@dataclass(frozen=True)
class Topics:
    input: str
    output: str
    dead: str
    experiment: str

    @classmethod
    def unique(cls, tools: SimpleNamespace, name: str) -> Topics:
        tag = tools.unique_topic(name)
        return cls(f"{tag}.room-events", f"{tag}.recommendations", f"{tag}.dead-letters",
                   f"{tag}.experiment-log")


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes]], timeout: float = 60.0
) -> list[tuple[int, int]]:
    """Produce (key, value) records; returns each one's (partition, offset), in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    positions: dict[int, tuple[int, int]] = {}
    errors: list[str] = []

    def report(n: int) -> Callable[[KafkaError | None, Any], None]:
        def delivered(err: KafkaError | None, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                positions[n] = (msg.partition(), msg.offset())

        return delivered

    count = 0
    for count, (key, value) in enumerate(records, 1):
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report(count - 1))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(timeout)
    assert not errors, f"produce to {topic} failed: {errors[:3]}"
    assert not left and len(positions) == count, f"{count - len(positions)} records not delivered"
    return [positions[n] for n in range(count)]


def wait_for(probe: Callable[[], Any], what: str, timeout: float, jobs: Sequence[Job]) -> Any:
    """Poll `probe` until it returns something true; fail (with the jobs' logs) at the deadline
    or as soon as a job has exited."""
    deadline = time.monotonic() + timeout
    while True:
        for job in jobs:
            job.check()
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            fail_with_logs(f"waited {timeout:.0f} s for {what}", jobs)
        time.sleep(0.1)  # poll interval, bounded by the deadline


def served(client: Consumer | AdminClient, topic: str, partitions: int | None) -> list[int] | None:
    """The topic's partitions once the broker serves them all with a leader, else None."""
    meta = client.list_topics(topic=topic, timeout=5).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    if partitions is not None and len(meta.partitions) != partitions:
        return None
    if any(p.leader < 0 for p in meta.partitions.values()):
        return None
    return sorted(meta.partitions)


class TopicReader:
    """A fresh consumer on every partition of a topic, from the beginning, no group.

    `records` accumulates what was read; `wait_until` polls until a condition on them holds.
    The topic may not exist yet (the job creates its output topics): it waits for it.
    """

    def __init__(
        self, bootstrap: str, topic: str, jobs: Sequence[Job] = (), timeout: float = DEADLINE
    ) -> None:
        self.topic = topic
        self.jobs = jobs
        self.records: list[SimpleNamespace] = []
        self.next_offset: dict[int, int] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"roomrank-test-{topic}",  # never joined: assign() only
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            }
        )
        self.partitions = wait_for(
            lambda: served(self.consumer, topic, None), f"topic {topic} to exist", timeout, jobs
        )
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in self.partitions])

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, seconds: float = 0.2) -> int:
        """Read what arrives within `seconds`; returns how many records were added."""
        added = 0
        for msg in self.consumer.consume(1000, seconds):
            err = msg.error()
            if err is not None:
                if err.fatal():
                    pytest.fail(f"fatal consumer error on {self.topic}: {err}")
                continue  # transient (a broker restarting): librdkafka retries
            partition, offset = msg.partition(), msg.offset()
            assert partition is not None and offset is not None  # set on every message
            self.records.append(
                SimpleNamespace(
                    partition=partition, offset=offset, key=msg.key(), value=msg.value()
                )
            )
            self.next_offset[partition] = offset + 1
            added += 1
        return added

    def wait_until(
        self, condition: Callable[[list[SimpleNamespace]], bool], what: str, timeout: float
    ) -> list[SimpleNamespace]:
        deadline = time.monotonic() + timeout
        while not condition(self.records):
            for job in self.jobs:
                job.check()
            if time.monotonic() > deadline:
                fail_with_logs(
                    f"waited {timeout:.0f} s for {what} on {self.topic}; read "
                    f"{len(self.records)} records",
                    self.jobs,
                )
            self.poll()
        return self.records

    def read_to_end(self, timeout: float = DEADLINE) -> list[SimpleNamespace]:
        """Everything the topic holds now (up to each partition's high watermark)."""
        ends = {}
        for p in self.partitions:
            _low, high = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=10
            )
            ends[p] = high
        return self.wait_until(
            lambda _: all(self.next_offset.get(p, 0) >= end for p, end in ends.items()),
            f"the end offsets {ends}",
            timeout,
        )


def values(records: Iterable[SimpleNamespace]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records]


def push_pair(push: dict[str, Any]) -> Pair:
    return (push["trigger_id"], push["user_id"])


def pairs(pushes: Iterable[dict[str, Any]]) -> set[Pair]:
    return {push_pair(p) for p in pushes}


def has_all(
    expected: set[Any], key: Callable[[dict[str, Any]], Hashable] = push_pair
) -> Callable[[list[SimpleNamespace]], bool]:
    """Condition: the records' keys (by default, pushes' (trigger, user) pairs) include every
    expected one (decodes only the new records each time)."""
    seen: set[Hashable] = set()
    done = [0]

    def condition(records: list[SimpleNamespace]) -> bool:
        for record in records[done[0] :]:
            seen.add(key(orjson.loads(record.value)))
        done[0] = len(records)
        return expected <= seen

    return condition


def rec_id(push: dict[str, Any]) -> str:
    return str(push["rec_id"])


def dedup(
    pushes: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable] = rec_id
) -> list[dict[str, Any]]:
    """First copy of each key (by default the rec_id)."""
    first: dict[Hashable, dict[str, Any]] = {}
    for push in pushes:
        first.setdefault(key(push), push)
    return list(first.values())


def content(push: dict[str, Any]) -> bytes:
    return stable([push])[0]


def assert_repeats_identical(
    records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable] = rec_id
) -> None:
    """At-least-once output: every record whose key came before equals its first copy
    (only `emitted_at`, wall time, may differ)."""
    first: dict[Hashable, bytes] = {}
    for record in records:
        assert first.setdefault(key(record), content(record)) == content(record), record


class Job:
    """One job process; stdout and stderr go to a log file quoted when a test fails."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        """Fail the test if the job has exited (it never should on its own in tail mode)."""
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"job {self.name} exited with {code}:\n{self.tail()}", pytrace=False)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"job {self.name} ignored SIGTERM for {timeout:.0f} s:\n{self.tail()}")


def fail_with_logs(message: str, jobs: Iterable[Job]) -> None:
    logs = "\n".join(f"--- {job.name} (exit {job.proc.poll()}):\n{job.tail()}" for job in jobs)
    pytest.fail(f"{message}\n{logs}", pytrace=False)


def job_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any ROOMRANK_* setting (defaults only), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMRANK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Job]]:
    """Start job processes; every one still running is SIGKILLed when the test ends."""
    started: list[Job] = []

    def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> Job:
        job = Job(name, argv, env or job_env(), tmp_path / f"{name}.log")
        started.append(job)
        return job

    try:
        yield start
    finally:
        for job in started:
            job.kill()


def roomrank_run(bootstrap: str, topics: Topics, *flags: str) -> list[str]:
    entry = [ROOMRANK] if ROOMRANK else [sys.executable, "-m", "flows.cli"]
    return [
        *entry, "run",
        "--brokers", bootstrap,
        "--input-topic", topics.input,
        "--output-topic", topics.output,
        "--dead-letter-topic", topics.dead,
        "--experiment-topic", topics.experiment,
        "--partitions", str(PARTITIONS),
        *flags,
    ]  # fmt: skip


def run_to_completion(
    bootstrap: str, topics: Topics, job: Job, expected: set[Pair]
) -> list[SimpleNamespace]:
    """Wait until every expected push was read; then everything the output topic holds."""
    with TopicReader(bootstrap, topics.output, [job]) as reader:
        reader.wait_until(has_all(expected), f"all {len(expected)} expected pushes", DEADLINE)
        return reader.read_to_end()




def pushing_job(
    bootstrap: str, tools: SimpleNamespace, spawn: Callable[..., Job], name: str,
    records: list[tuple[bytes, bytes]], *flags: str, partitions: int = PARTITIONS,
) -> tuple[Topics, Job]:
    """A job on fresh topics (the input made with ``partitions`` and holding ``records``),
    once it has pushed: the start of a test about what happens next."""
    topics = Topics.unique(tools, name)
    tools.create_topic(bootstrap, topics.input, partitions)
    produce(bootstrap, topics.input, records)
    job = spawn(name, roomrank_run(bootstrap, topics, *flags))
    with TopicReader(bootstrap, topics.output, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)
    return topics, job
