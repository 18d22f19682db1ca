"""Kafka mode against a real Apache Kafka broker: the job as real processes, end to end.

Each test runs the job as a subprocess (`roomrank run --brokers ...`, or `python -m bytewax.run
flows.deployed:flow` for scale-out) on its own topics, feeds it room events with a
confluent-kafka producer keyed by `room_id`, and reads what it pushed with a fresh consumer
(and, once, with Debian's kcat). Nothing sleeps to synchronise: every wait polls a condition
(records on a topic, a snapshot in the recovery store, a process exit) against a deadline, and
checks on the way that the job is still alive, so a crash fails fast with the job's log.

The end of a finite stream in tail mode. A room holds each event until the room's event time
has passed it by `lateness_ms` (2000 by default; `features/state/reorder.py`), and a Kafka source
never ends, so a room's last ~2 s of events are held until a newer event of that room
arrives. A `room_close` applies everything its room holds at once (and a later event of a
closed room is a `closed` dead letter), so rooms that close need nothing more. `world_input`
ends every room still live at the end of the world with one end-of-input marker: a heartbeat of
a viewer who is in no other event, at
`last ts + lateness_ms + 1`. It moves the room's watermark past every real event (all are
applied, the `room_close` included) and cannot trigger or join a push, since nothing comes
after it. `expected_audiences` and the in-process file mode (which flushes every room at end
of input) both see the world without markers; the pushes must match them exactly.
"""

from __future__ import annotations

import base64
import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from features.contract.schemas import load as load_schema
from flows.connectors.kafka import KafkaMessagesSink
from flows.settings import Settings
from tests.flows.helpers import expected_audiences, run_lines, stable, world_lines

pytestmark = pytest.mark.integration

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


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class WorldInput:
    """A simulated world as Kafka records, and what the job must push for it."""

    records: list[tuple[bytes, bytes]]  # (room_id key, event JSON), production order
    events: list[dict[str, Any]]  # the world's events, without the end-of-input markers
    expected: set[Pair]

    def slice(self, start: float, stop: float) -> list[tuple[bytes, bytes]]:
        """Records from fraction `start` to `stop` of the stream (order kept)."""
        n = len(self.records)
        return self.records[int(start * n) : int(stop * n)]


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


def audience_pairs(events: Sequence[dict[str, Any]]) -> set[Pair]:
    return {(t, u) for t, users in expected_audiences(list(events)).items() for u in users}


def world_input(seed: int, rooms: int, viewers: int, minutes: float) -> WorldInput:
    lines = world_lines(seed, rooms=rooms, viewers=viewers, minutes=minutes)
    events = [orjson.loads(line) for line in lines]
    markers = end_markers(events)
    records = [(e["room_id"].encode(), line) for e, line in zip(events, lines, strict=True)]
    records += [(m["room_id"].encode(), orjson.dumps(m)) for m in markers]
    return WorldInput(records, events, audience_pairs(events))


@pytest.fixture(scope="module")
def world() -> WorldInput:
    """Small: ~2.4k events in 12 rooms, ~750 pushes; shared by the tests that compare runs.

    12 rooms, not fewer: Bytewax routes a key to worker `SipHash-1-3(key) % workers`, and the
    world's room ids r-001 to r-009 all land on worker 0 of 2 (r-010 and r-012 on worker 1),
    so with fewer rooms a second process would have nothing to do.
    """
    data = world_input(seed=11, rooms=12, viewers=200, minutes=6)
    assert len(data.expected) > 500
    return data


# --------------------------------------------------------------------------- Kafka I/O


@dataclass(frozen=True)
class Topics:
    input: str
    output: str
    dead: str

    @classmethod
    def unique(cls, tools: SimpleNamespace, name: str) -> Topics:
        tag = tools.unique_topic(name)
        return cls(f"{tag}.room-events", f"{tag}.recommendations", f"{tag}.dead-letters")


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
            _fail(f"waited {timeout:.0f} s for {what}", jobs)
        time.sleep(0.1)  # poll interval, bounded by the deadline


def _served(client: Consumer | AdminClient, topic: str, partitions: int | None) -> list[int] | None:
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
            lambda: _served(self.consumer, topic, None), f"topic {topic} to exist", timeout, jobs
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
                _fail(
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


def pairs(pushes: Iterable[dict[str, Any]]) -> set[Pair]:
    return {(p["trigger_id"], p["user_id"]) for p in pushes}


def has_all(expected: set[Pair]) -> Callable[[list[SimpleNamespace]], bool]:
    """Condition: every expected push was read (decodes only the new records each time)."""
    seen: set[Pair] = set()
    done = [0]

    def condition(records: list[SimpleNamespace]) -> bool:
        for record in records[done[0] :]:
            push = orjson.loads(record.value)
            seen.add((push["trigger_id"], push["user_id"]))
        done[0] = len(records)
        return expected <= seen

    return condition


def dedup(pushes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """First copy of each rec_id."""
    first: dict[str, dict[str, Any]] = {}
    for push in pushes:
        first.setdefault(push["rec_id"], push)
    return list(first.values())


def content(push: dict[str, Any]) -> bytes:
    return stable([push])[0]


# --------------------------------------------------------------------------- job processes


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


def _fail(message: str, jobs: Iterable[Job]) -> None:
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


# --------------------------------------------------------------------------- recovery store


def resume_offsets(recovery_dir: Path, timeout: float = 10.0) -> dict[int, int]:
    """The input offsets a restart would resume from, read from Bytewax's recovery store.

    As Bytewax 0.21.1 computes it (`src/recovery.rs`): the resume epoch is the lowest worker
    frontier of the latest execution (a worker without a frontier yet counts as at that
    execution's own resume epoch), and each state key restores its newest snapshot taken
    before that epoch. For the Kafka source a state key is a partition and its snapshot
    the next offset to read (pickled int). Empty until the first epoch is durable.
    """
    offsets: dict[int, int] = {}
    for path in sorted(recovery_dir.glob("part-*.sqlite3")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)) as db:
            latest = db.execute(
                "SELECT ex_num, worker_count, resume_epoch FROM exs ORDER BY ex_num DESC LIMIT 1"
            ).fetchone()
            if latest is None:
                continue
            ex_num, workers, resume_epoch = latest
            fronts = dict(
                db.execute(
                    "SELECT worker_index, worker_frontier FROM fronts WHERE ex_num = ?", (ex_num,)
                ).fetchall()
            )
            resume_epoch = min(max(resume_epoch, fronts.get(w, 0)) for w in range(workers))
            rows = db.execute(
                "WITH max_epoch_snaps AS (SELECT step_id, state_key, MAX(snap_epoch) AS snap_epoch"
                "  FROM snaps WHERE snap_epoch < ? GROUP BY step_id, state_key)"
                " SELECT state_key, ser_change FROM snaps"
                " JOIN max_epoch_snaps USING (step_id, state_key, snap_epoch)"
                " WHERE step_id = ?",
                (resume_epoch, SOURCE_STEP),
            ).fetchall()
            offsets.update({int(key): pickle.loads(blob) for key, blob in rows if blob})
    return offsets


def wait_for_resume_point(
    recovery_dir: Path, ends: dict[int, int], jobs: Sequence[Job], timeout: float = DEADLINE
) -> dict[int, int]:
    """Wait until a durable snapshot has read every partition up to `ends`."""

    def covered() -> dict[int, int] | None:
        offsets = resume_offsets(recovery_dir)
        return offsets if all(offsets.get(p, 0) >= end for p, end in ends.items()) else None

    return wait_for(covered, f"a snapshot covering input offsets {ends}", timeout, jobs)


def end_offsets(positions: Iterable[tuple[int, int]]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition, offset in positions:
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


# --------------------------------------------------------------------------- reference run


@dataclass(frozen=True)
class Reference:
    topics: Topics
    records: list[SimpleNamespace]  # the output topic, whole
    dead: list[SimpleNamespace]  # the dead-letter topic, whole
    pushes: list[dict[str, Any]]


@pytest.fixture(scope="module")
def reference(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    tmp_path_factory: pytest.TempPathFactory,
) -> Reference:
    """One uninterrupted `roomrank run` over the world: the run the other tests compare to.

    The job starts first, on topics that do not exist yet: it creates all three
    (`ensure_topics`, 4 partitions) and its source lists the new input topic at once. Then
    the world is produced, as any upstream client would.
    """
    topics = Topics.unique(kafka_tools, "ref")
    log = tmp_path_factory.mktemp("reference") / "job.log"
    job = Job("reference", roomrank_run(kafka_bootstrap, topics), job_env(), log)
    try:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        wait_for(
            lambda: _served(admin, topics.input, PARTITIONS),
            f"the job to create {topics.input}",
            JOB_START,
            [job],
        )
        produce(kafka_bootstrap, topics.input, world.records)
        records = run_to_completion(kafka_bootstrap, topics, job, world.expected)
        with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
            dead = reader.read_to_end()
        job.check()
    finally:
        job.kill()  # done: an idle job would only take CPU from the tests after it
    return Reference(topics, records, dead, values(records))


# --------------------------------------------------------------------------- 1. end to end


def test_pushes_exactly_the_expected_audiences(world: WorldInput, reference: Reference) -> None:
    pushes = reference.pushes
    validator = jsonschema.Draft202012Validator(load_schema("recommendation"))

    assert pairs(pushes) == world.expected
    assert len(pushes) == len(world.expected), "an uninterrupted run pushes each once"
    for record, push in zip(reference.records, pushes, strict=True):
        assert record.key == push["user_id"].encode()
        validator.validate(push)
    assert reference.dead == [], values(reference.dead)[:3]
    # Kafka mode pushes exactly what the embedded file mode pushes for the same events
    # (file mode flushes every room at end of input, so it needs no end-of-input markers).
    file_pushes, file_dead = run_lines([orjson.dumps(e) for e in world.events])
    assert file_dead == []
    assert stable(pushes) == stable(file_pushes)


# --------------------------------------------------------------------------- 2. dead letters


def test_bad_messages_become_dead_letters_and_the_job_goes_on(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, spawn: Callable[..., Job]
) -> None:
    small = world_input(seed=5, rooms=2, viewers=40, minutes=3)
    limit = 16_384
    assert max(len(v) for _k, v in small.records) < limit
    room = small.events[0]["room_id"].encode()
    ts = small.events[len(small.events) // 2]["ts"]
    padded = orjson.dumps(
        {"event_id": "too-big", "type": "comment", "ts": ts, "room_id": room.decode(),
         "user_id": "u-x", "text": "x" * (limit + 100)}
    )  # fmt: skip
    # (value, words the dead letter's error must contain, raw cut to fit one Kafka message)
    bad: list[tuple[bytes, str, bool]] = [
        (b'{"event_id": "cut-off", "type": "enter", ', "not valid UTF-8 JSON", False),
        (b"\xff\xfe\x00 binary \x81", "not valid UTF-8 JSON", False),
        (b"[1, 2, 3]", "message must be a JSON object, got list", False),
        (
            orjson.dumps(
                {
                    "event_id": "bad-ts",
                    "type": "purchase",
                    "ts": "yesterday",
                    "room_id": room.decode(),
                    "user_id": "u-1",
                    "item_id": "i-1",
                    "amount": 3,
                }
            ),
            "field 'ts' must be an integer, got 'yesterday'",
            False,
        ),
        (
            orjson.dumps(
                {"event_id": "no-user", "type": "enter", "ts": ts, "room_id": room.decode()}
            ),
            "missing required field 'user_id' for type 'enter'",
            False,
        ),
        (padded, f"the job accepts at most {limit} bytes (--max-message-bytes)", False),
        # 950 kB of quotes: its dead letter (JSON-escaped raw) would be 1.9 MB, more than one
        # Kafka message holds; the job used to crash on it (and crash-loop on restart).
        (b'"' * 950_000, f"message is 950000 bytes; the job accepts at most {limit}", True),
    ]
    # Spread the bad messages through the stream, in the first room's partition.
    records = list(small.records)
    spots = [(n + 1) * len(records) // (len(bad) + 1) for n in range(len(bad))]
    for n in reversed(range(len(bad))):
        records.insert(spots[n], (room, bad[n][0]))
    at = {spots[n] + n: n for n in range(len(bad))}  # index in records -> bad message
    assert all(records[i][1] == bad[n][0] for i, n in at.items())

    topics = Topics.unique(kafka_tools, "dead")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    positions = produce(kafka_bootstrap, topics.input, records)
    job = spawn("dead", roomrank_run(kafka_bootstrap, topics, "--max-message-bytes", str(limit)))

    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) >= len(bad), f"{len(bad)} dead letters", DEADLINE)
    pushes = values(run_to_completion(kafka_bootstrap, topics, job, small.expected))
    with TopicReader(kafka_bootstrap, topics.dead, [job]) as reader:
        letters = reader.read_to_end()

    # The good events around the bad ones still make exactly their pushes.
    assert pairs(pushes) == small.expected
    assert len(pushes) == len(small.expected)
    # One dead letter per bad message, at its topic, partition and offset.
    validator = jsonschema.Draft202012Validator(load_schema("dead-letter"))
    by_origin = {}
    for record in letters:
        letter = orjson.loads(record.value)
        validator.validate(letter)
        assert record.key == f"{letter['topic']}:{letter['partition']}:{letter['offset']}".encode()
        by_origin[(letter["partition"], letter["offset"])] = letter
    assert len(letters) == len(by_origin) == len(bad)
    for index, n in at.items():
        value, words, cut = bad[n]
        partition, offset = positions[index]
        letter = by_origin.get((partition, offset))
        assert letter is not None, f"no dead letter for bad message {n} at {partition}:{offset}"
        assert letter["topic"] == topics.input
        assert words in letter["error"], letter["error"]
        try:
            raw = value.decode()
        except UnicodeDecodeError:
            raw = base64.b64encode(value).decode()
        if cut:
            assert len(orjson.dumps(letter)) < 1_000_000
            assert "raw cut to its first" in letter["error"]
            assert 0 < len(letter["raw"]) < len(raw) and raw.startswith(letter["raw"])
        else:
            assert letter["raw"] == raw


# --------------------------------------------------------------------------- 3. recovery


def test_sigkill_and_restart_resume_from_the_last_snapshot(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    """Three parts: the first is snapshotted, the job is killed during the second, the third
    is produced only after the kill (so the kill is mid-stream by construction)."""
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "recovery")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    part1, part2, part3 = world.slice(0, 0.4), world.slice(0.4, 0.75), world.slice(0.75, 1)
    trigger_ids = {t for t, _u in world.expected}
    assert any(orjson.loads(v)["event_id"] in trigger_ids for _k, v in part3)
    argv = roomrank_run(
        kafka_bootstrap, topics, "--recovery-dir", str(recovery), "--snapshot-secs", "1"
    )
    where: dict[str, tuple[int, int]] = {}  # event_id -> (partition, offset) in the input
    sent: dict[int, int] = {}  # partition -> end offset of what was produced

    def send(part: list[tuple[bytes, bytes]]) -> None:
        positions = produce(kafka_bootstrap, topics.input, part)
        for (_key, value), position in zip(part, positions, strict=True):
            where[orjson.loads(value)["event_id"]] = position
        for partition, end in end_offsets(positions).items():
            sent[partition] = max(end, sent.get(partition, 0))

    def beyond(pushes: list[dict[str, Any]], resume: dict[int, int]) -> list[dict[str, Any]]:
        """Pushes whose trigger a restart from `resume` reads again: they must come again."""
        return [
            p
            for p in pushes
            if where[p["trigger_id"]][1] >= resume.get(where[p["trigger_id"]][0], 0)
        ]

    send(part1)
    first = spawn("recovery-1", argv)
    with TopicReader(kafka_bootstrap, topics.output, [first]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)
        # Part 1 read and durably snapshotted: the learners' state after it is what restores.
        ends1 = wait_for_resume_point(recovery, dict(sent), [first])
        # Part 2 in chunks, the next one only once a snapshot covers all sent so far, until a
        # push is read whose trigger lies beyond the snapshot a restart would resume from.
        # The job is frozen (SIGSTOP) to check that against the store, so no snapshot can
        # land between the check and the SIGKILL.
        chunks = [part2[n : n + 100] for n in range(0, len(part2), 100)]
        deadline = time.monotonic() + DEADLINE
        while True:
            first.check()
            if time.monotonic() > deadline:
                _fail("no push was read before a snapshot covered its trigger", [first])
            resume = resume_offsets(recovery)
            if chunks and all(resume.get(p, 0) >= end for p, end in sent.items()):
                send(chunks.pop(0))
                continue
            reader.poll(0.05)
            if not beyond(values(reader.records), resume):
                continue
            first.proc.send_signal(signal.SIGSTOP)
            if beyond(values(reader.records), resume_offsets(recovery)):
                first.kill()
                break
            first.proc.send_signal(signal.SIGCONT)
    with TopicReader(kafka_bootstrap, topics.output) as reader:
        before = reader.read_to_end()  # all that the first run delivered
    resume = resume_offsets(recovery)
    pushes_before = values(before)
    assert 0 < len(pairs(pushes_before)) < len(world.expected)
    assert all(resume.get(p, 0) >= end for p, end in ends1.items()), (resume, ends1)
    must_repeat = {p["rec_id"]: content(p) for p in beyond(pushes_before, resume)}
    assert must_repeat

    send([record for chunk in chunks for record in chunk] + part3)  # the rest of the world
    second = spawn("recovery-2", argv)
    records = run_to_completion(kafka_bootstrap, topics, second, world.expected)
    assert second.terminate() == 0, second.tail()

    every = values(records)
    delivered_before = {(r.partition, r.offset) for r in before}
    after = values(r for r in records if (r.partition, r.offset) not in delivered_before)
    # Every expected push arrived; nothing else did.
    assert pairs(every) == world.expected
    # The restart resumed from the snapshot, not from the beginning: it did not push again
    # what was pushed before that snapshot...
    assert len(after) < len(world.expected)
    # ...but what was pushed after it came again, identical: same rec_id, items and scores.
    again = {p["rec_id"]: content(p) for p in after}
    assert {r: again.get(r) for r in must_repeat} == must_repeat
    # Every repeat equals its first copy (only emitted_at differs).
    first_copy: dict[str, bytes] = {}
    for push in every:
        assert first_copy.setdefault(push["rec_id"], content(push)) == content(push)
    # And the learners' state after the restart is an uninterrupted run's: same pushes.
    assert stable(dedup(every)) == stable(reference.pushes)
    # The second execution resumed where the store said it would.
    with closing(sqlite3.connect(recovery / "part-0.sqlite3")) as db:
        executions = db.execute("SELECT ex_num, resume_epoch FROM exs ORDER BY ex_num").fetchall()
    assert len(executions) == 2 and executions[1][1] > 1, executions


def test_sigterm_stops_gracefully_with_a_final_snapshot(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
    tmp_path: Path,
) -> None:
    """SIGTERM ends the input: in-flight pushes are flushed, the last epoch is snapshotted and
    the process exits 0; a restart continues with nothing lost and nothing pushed twice."""
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "sigterm")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    part1, part2 = world.slice(0, 0.5), world.slice(0.5, 1)
    # Epochs far longer than the test: any snapshot in the store was written by the stop.
    argv = roomrank_run(
        kafka_bootstrap, topics, "--recovery-dir", str(recovery), "--snapshot-secs", "3600"
    )
    produce(kafka_bootstrap, topics.input, part1)
    first = spawn("graceful-1", argv)
    with TopicReader(kafka_bootstrap, topics.output, [first]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)
    assert resume_offsets(recovery) == {}
    assert first.terminate() == 0, first.tail()
    assert sum(resume_offsets(recovery).values()) > 0, "the stop wrote no snapshot"

    produce(kafka_bootstrap, topics.input, part2)
    second = spawn("graceful-2", argv)
    every = values(run_to_completion(kafka_bootstrap, topics, second, world.expected))
    assert second.terminate() == 0, second.tail()
    assert pairs(every) == world.expected
    assert len({p["rec_id"] for p in every}) == len(every), "a push was emitted twice"
    assert stable(every) == stable(reference.pushes)


# --------------------------------------------------------------------------- 4. broker restart


def test_broker_restart_mid_stream_loses_nothing(
    kafka_broker: Any,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
) -> None:
    bootstrap = kafka_broker.bootstrap
    topics = Topics.unique(kafka_tools, "outage")
    kafka_tools.create_topic(bootstrap, topics.input, PARTITIONS)
    # The job's sink on its own, to see a write during the outage wait for the broker.
    probe_topic = kafka_tools.unique_topic("outage-sink")
    kafka_tools.create_topic(bootstrap, probe_topic, 1)
    sink = KafkaMessagesSink(bootstrap, probe_topic).build("probe", 0, 1)
    probe = [(f"user-{n}".encode(), f"push-{n}".encode()) for n in range(200)]
    produce(bootstrap, topics.input, world.slice(0, 0.5))
    job = spawn("outage", roomrank_run(bootstrap, topics))
    with TopicReader(bootstrap, topics.output, [job]) as reader:
        reader.wait_until(lambda rs: len(rs) > 0, "a first push", JOB_START)

    def write_probe() -> float:
        sink.write_batch([("pushes", probe)])
        return time.monotonic()

    kafka_broker.stop()
    write = ThreadPoolExecutor(1).submit(write_probe)
    job.check()  # a broker outage is waited out, not a reason to exit
    restarting = time.monotonic()
    assert kafka_broker.start() == bootstrap
    written = write.result(timeout=DEADLINE)  # no error: the batch waited for the broker...
    sink.close()
    job.check()
    produce(bootstrap, topics.input, world.slice(0.5, 1))
    pushes = values(run_to_completion(bootstrap, topics, job, world.expected))

    assert written > restarting  # ...it could not have been delivered before it came back
    with TopicReader(bootstrap, probe_topic) as reader:
        assert [(r.key, r.value) for r in reader.read_to_end()] == probe  # once each, in order
    assert pairs(pushes) == world.expected
    assert stable(dedup(pushes)) == stable(reference.pushes)
    # The idempotent producer's retries across the outage wrote no copies.
    assert len(pushes) == len(world.expected), Counter(p["rec_id"] for p in pushes).most_common(3)
    # The outage is in the job's log, in its own format: lost, then back.
    log = job.log.read_text(errors="replace")
    assert "lost the broker" in log and "the broker is back" in log, job.tail()
    assert log.index("lost the broker") < log.rindex("the broker is back"), job.tail()
    assert "%3|" not in log and "%4|" not in log, job.tail()  # no raw librdkafka lines


# --------------------------------------------------------------------------- 5. scale-out


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _pushes_counted(port: int) -> float:
    """`roomrank_pushes_total` of one process, from its Prometheus endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        text = page.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("roomrank_pushes_total{")
    )


def test_two_processes_push_the_same_as_one(
    kafka_bootstrap: str,
    kafka_tools: SimpleNamespace,
    world: WorldInput,
    reference: Reference,
    spawn: Callable[..., Job],
) -> None:
    topics = Topics.unique(kafka_tools, "scale")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    produce(kafka_bootstrap, topics.input, world.records)
    *cluster, metrics0, metrics1 = _free_ports(4)
    addresses = ";".join(f"127.0.0.1:{port}" for port in cluster)
    # Each process serves its metrics on its own port, to show that both did part of the work.
    metrics = [metrics0, metrics1]
    command = [sys.executable, "-m", "bytewax.run", "flows.deployed:flow", "-w", "1"]
    jobs = [
        spawn(
            f"process-{i}",
            [*command, "-i", str(i), "-a", addresses],
            job_env(
                {
                    "ROOMRANK_BROKERS": kafka_bootstrap,
                    "ROOMRANK_INPUT_TOPIC": topics.input,
                    "ROOMRANK_OUTPUT_TOPIC": topics.output,
                    "ROOMRANK_DEAD_LETTER_TOPIC": topics.dead,
                    "ROOMRANK_PARTITIONS": str(PARTITIONS),
                    "ROOMRANK_METRICS_PORT": str(metrics[i]),
                }
            ),
        )
        for i in range(2)
    ]
    with TopicReader(kafka_bootstrap, topics.output, jobs) as reader:
        reader.wait_until(has_all(world.expected), "all expected pushes", DEADLINE)
        pushes = values(reader.read_to_end())
    counted = [_pushes_counted(port) for port in metrics]

    assert stable(pushes) == stable(reference.pushes)
    # Rooms are spread over the two processes: each pushed for its own rooms, none twice.
    assert all(n > 0 for n in counted) and sum(counted) == len(pushes), counted


# --------------------------------------------------------------------------- 6. kcat


def test_kcat_reads_the_pushes(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, reference: Reference
) -> None:
    """An independent client (Debian's kcat, its own librdkafka) reads what `roomrank run`
    pushed for events another client produced: the issue's manual path, automated."""
    count = len(reference.records)
    got = kafka_tools.kcat_consume(kafka_bootstrap, reference.topics.output, count, 60.0)

    assert len(got) == count
    seen = {(key, orjson.loads(value)["rec_id"]) for key, value in got}
    for key, value in got:
        assert key == orjson.loads(value)["user_id"].encode()
    assert seen == {(r.key, orjson.loads(r.value)["rec_id"]) for r in reference.records}


# --------------------------------------------------------------------------- experiments


def test_holdout_ghosts_go_to_the_experiment_topic_never_to_the_recommendations(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, world: WorldInput,
    spawn: Callable[..., Job],
) -> None:
    from models.arms import Arms

    arms = "attention=0.7,holdout=0.3"
    split = Arms.parse(arms)
    topics = Topics.unique(kafka_tools, "ghosts")
    experiment_topic = topics.output.replace("recommendations", "experiment-log")
    job = spawn("ghosts", roomrank_run(kafka_bootstrap, topics, "--arms", arms,
                                       "--experiment-topic", experiment_topic))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    wait_for(lambda: _served(admin, topics.input, PARTITIONS), f"the job to create {topics.input}",
             JOB_START, [job])
    produce(kafka_bootstrap, topics.input, world.records)
    holdout = {p for p in world.expected if split.assign(p[1], "roomrank-v1") == "holdout"}
    assert holdout and holdout != world.expected
    pushed = run_to_completion(kafka_bootstrap, topics, job, world.expected - holdout)
    assert pairs(values(pushed)) == world.expected - holdout
    with TopicReader(kafka_bootstrap, experiment_topic, [job]) as reader:
        reader.wait_until(has_all(holdout), f"all {len(holdout)} ghost pushes", DEADLINE)
        ghosts = values(reader.read_to_end())
    assert pairs(ghosts) == holdout
    assert {g["kind"] for g in ghosts} == {"ghost_push"}
    assert {g["arm"] for g in ghosts} == {"holdout"}
