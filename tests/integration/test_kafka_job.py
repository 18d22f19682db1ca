"""Kafka mode against a real Apache Kafka broker: the job as real processes, end to end.

Each test runs the job as a subprocess (`roomrank run --brokers ...`, or `python -m bytewax.run
flows.deployed:flow` for scale-out) on its own topics, feeds it room events with a
confluent-kafka producer keyed by `room_id`, and reads what it pushed with a fresh consumer
(and, once, with Debian's kcat). Nothing sleeps to synchronise: every wait polls a condition
(records on a topic, a snapshot in the recovery store, a process exit) against a deadline, and
checks on the way that the job is still alive, so a crash fails fast with the job's log.

The end of a finite stream in tail mode: `world_input` ends every room still live with an
end-of-input marker (`harness.end_markers`). `expected_audiences` and the in-process file mode
(which flushes every room at end of input) both see the world without markers; the pushes
must match them exactly. The job processes, topics and readers are `harness.py`'s; the
SIGKILL choreography is `recovery.py`'s.
"""

from __future__ import annotations

import base64
import socket
import sqlite3
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import orjson
import pytest
from confluent_kafka.admin import AdminClient

from features.contract.schemas import load as load_schema
from flows.connectors.kafka import KafkaMessagesSink
from tests.flows.helpers import expected_audiences, run_lines, stable, world_lines
from tests.integration.harness import (
    DEADLINE,
    JOB_START,
    PARTITIONS,
    Job,
    Pair,
    TopicReader,
    Topics,
    assert_repeats_identical,
    dedup,
    end_markers,
    has_all,
    job_env,
    pairs,
    produce,
    roomrank_run,
    run_to_completion,
    served,
    values,
    wait_for,
)
from tests.integration.recovery import resume_offsets, sigkill_and_restart

pytestmark = pytest.mark.integration

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
            lambda: served(admin, topics.input, PARTITIONS),
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
    """Killed mid-stream (`recovery.sigkill_and_restart`), the job restarts from its last
    snapshot: what it pushed since is pushed again, identical, and nothing is lost."""
    recovery = tmp_path / "recovery"
    topics = Topics.unique(kafka_tools, "recovery")
    kafka_tools.create_topic(kafka_bootstrap, topics.input, PARTITIONS)
    parts = world.slice(0, 0.4), world.slice(0.4, 0.75), world.slice(0.75, 1)
    trigger_ids = {t for t, _u in world.expected}
    assert any(orjson.loads(v)["event_id"] in trigger_ids for _k, v in parts[2])
    argv = roomrank_run(
        kafka_bootstrap, topics, "--recovery-dir", str(recovery), "--snapshot-secs", "1"
    )
    run = sigkill_and_restart(kafka_bootstrap, topics, argv, spawn, recovery, parts)
    assert run.second.terminate() == 0, run.second.tail()

    pushes_before = values(run.before[0])
    assert 0 < len(pairs(pushes_before)) < len(world.expected)
    assert all(run.resume.get(p, 0) >= end for p, end in run.first_snapshot.items())
    every = values(run.records)
    # Every expected push arrived; nothing else did.
    assert pairs(every) == world.expected
    # The restart resumed from the snapshot, not from the beginning: it did not push again
    # what was pushed before that snapshot...
    assert len(run.after()) < len(world.expected)
    # ...but what was pushed after it came again, identical: same rec_id, items and scores.
    assert run.assert_delivered_again() > 0
    # Every repeat equals its first copy (only emitted_at differs).
    assert_repeats_identical(every)
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
                    "ROOMRANK_EXPERIMENT_TOPIC": topics.experiment,
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
    experiment_topic = topics.experiment
    job = spawn("ghosts", roomrank_run(kafka_bootstrap, topics, "--arms", arms))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    wait_for(lambda: served(admin, topics.input, PARTITIONS), f"the job to create {topics.input}",
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
