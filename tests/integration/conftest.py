"""Fixtures and helpers for tests against a real Kafka broker.

Broker: `KAFKA_BOOTSTRAP_SERVERS` if set, else a private single-node Apache Kafka started with
`deploy/kafka/local-kafka` (state under the session's tmp dir) and stopped at session end.

Fixtures:
  kafka_bootstrap  session: "host:port"
  kafka_broker     per test: `.bootstrap`, `.stop()`, `.start()`, `.restart()` for fault tests;
                   a test that stopped the broker gets it started again afterwards. With
                   KAFKA_BOOTSTRAP_SERVERS set, `.stop()`/`.start()` fail the test.
  kafka_tools      the helper functions below, for test modules (no import of conftest needed)
  spawn            per test: starts job processes, SIGKILLs those still running at the end
                   (defined with the job harness, `tests/integration/harness.py`)

Helpers (plain functions): create_topic, produce_all, consume_all, kcat_consume.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import confluent_kafka
import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.harness import spawn  # noqa: F401  (a fixture, for every test module)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = REPO_ROOT / "deploy" / "kafka" / "local-kafka"

# First start may fetch ~45 MB of jars with Maven; the script's own readiness deadline is
# ROOMRANK_KAFKA_START_TIMEOUT (60 s).
_START_COMMAND_TIMEOUT = 900.0
_STOP_COMMAND_TIMEOUT = 120.0

Key = bytes | None
Value = bytes | None


# --------------------------------------------------------------------------- broker


class KafkaBroker:
    """The broker used by this test session.

    `managed` is True when the fixture started it with local-kafka; only then can it be stopped
    and started again (same state dir, so same address and data).
    """

    def __init__(self, bootstrap: str, state_dir: Path | None) -> None:
        self.bootstrap = bootstrap
        self.state_dir = state_dir
        self.running = state_dir is None or bool(bootstrap)

    @property
    def managed(self) -> bool:
        return self.state_dir is not None

    def _require_managed(self, action: str) -> Path:
        if self.state_dir is None:
            pytest.fail(
                f"cannot {action} the Kafka broker: KAFKA_BOOTSTRAP_SERVERS="
                f"{self.bootstrap!r} points at a broker this test session did not start. "
                "Unset KAFKA_BOOTSTRAP_SERVERS to run fault tests against a local broker "
                "(deploy/kafka/local-kafka).",
                pytrace=False,
            )
        return self.state_dir

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        state_dir = self._require_managed(command)
        env = {**os.environ, "ROOMRANK_KAFKA_DIR": str(state_dir)}
        try:
            return subprocess.run(
                ["bash", str(LOCAL_KAFKA), command],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raw = exc.stderr or b""
            stderr = raw if isinstance(raw, str) else raw.decode(errors="replace")
            pytest.fail(
                f"`local-kafka {command}` did not finish within {timeout:.0f}s "
                f"(state {state_dir}):\n{stderr}",
                pytrace=False,
            )

    def start(self) -> str:
        """Start the broker (no-op if running); returns its bootstrap address."""
        result = self._run("start", _START_COMMAND_TIMEOUT)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(
                f"`local-kafka start` failed (exit {result.returncode}):\n{result.stderr.strip()}",
                pytrace=False,
            )
        address = lines[-1].strip()
        if self.bootstrap and address != self.bootstrap:
            pytest.fail(
                f"broker came back on {address}, not on {self.bootstrap}: clients of the "
                "previous run cannot reconnect (was the port taken by another process?)\n"
                f"{result.stderr.strip()}",
                pytrace=False,
            )
        self.bootstrap = address
        self.running = True
        return address

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after a deadline)."""
        result = self._run("stop", _STOP_COMMAND_TIMEOUT)
        if result.returncode != 0:
            pytest.fail(
                f"`local-kafka stop` failed (exit {result.returncode}):\n{result.stderr.strip()}",
                pytrace=False,
            )
        self.running = False

    def restart(self) -> str:
        self.stop()
        return self.start()

    def status(self) -> tuple[int, str]:
        """(exit code, output) of `local-kafka status`: 0 running, 3 stopped."""
        result = self._run("status", 30.0)
        return result.returncode, result.stdout.strip()


@pytest.fixture(scope="session")
def _kafka_session_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KafkaBroker]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield KafkaBroker(external, None)
        return
    broker = KafkaBroker("", tmp_path_factory.mktemp("kafka-state"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka_session_broker: KafkaBroker) -> str:
    return _kafka_session_broker.bootstrap


@pytest.fixture
def kafka_broker(_kafka_session_broker: KafkaBroker) -> Iterator[KafkaBroker]:
    broker = _kafka_session_broker
    yield broker
    # A fault test that failed between stop() and start() must not take the broker away from
    # the tests after it.
    if broker.managed and not broker.running:
        broker.start()


# --------------------------------------------------------------------------- helpers


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    *,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create a topic and wait until the broker serves metadata for all its partitions."""
    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, partitions, replication_factor, config=config or {})],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    futures[name].result(timeout=timeout)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"topic {name!r} not served with {partitions} partitions")
        topic = admin.list_topics(topic=name, timeout=remaining).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.05)  # poll interval while metadata propagates, bounded by the deadline


def unique_topic(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def produce_all(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[Key, Value]],
    *,
    timeout: float = 30.0,
    producer: Producer | None = None,
) -> int:
    """Produce (key, value) records, wait for every delivery report, raise on any failure."""
    if producer is None:
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors: list[KafkaError] = []
    delivered = 0

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        nonlocal delivered
        if err is not None:
            errors.append(err)
        else:
            delivered += 1

    sent = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        sent += 1
        producer.poll(0)
    left = producer.flush(timeout)
    if errors:
        raise KafkaException(errors[0])
    if left or delivered != sent:
        raise TimeoutError(f"{sent - delivered} of {sent} records not delivered in {timeout}s")
    return sent


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: Key
    value: Value
    timestamp_ms: int
    headers: tuple[tuple[str, bytes | None], ...]


def consume_all(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Record]], bool] | None = None,
    timeout: float = 30.0,
) -> list[Record]:
    """Read `topic` from the beginning with a fresh consumer (all partitions, no group).

    Stops as soon as `until(records)` holds, or, without `until`, when every partition has been
    read to its end. Returns what was read when the deadline passes first; the caller asserts.
    """
    deadline = time.monotonic() + timeout
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"consume-all-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    records: list[Record] = []
    try:
        partitions = _wait_for_partitions(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        while time.monotonic() < deadline:
            if until is not None and until(records):
                break
            if until is None and at_end >= set(partitions):
                break
            msg = consumer.poll(min(0.5, max(0.0, deadline - time.monotonic())))
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                    continue
                if err.fatal():
                    raise KafkaException(err)
                continue  # transient (e.g. broker restarting): librdkafka retries
            record = _to_record(msg)
            at_end.discard(record.partition)
            records.append(record)
    finally:
        consumer.close()
    return records


def _to_record(msg: Message) -> Record:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None  # set on every consumed message
    headers = msg.headers() or []
    pairs = headers.items() if isinstance(headers, dict) else headers
    return Record(
        topic=msg.topic() or "",
        partition=partition,
        offset=offset,
        key=msg.key(),
        value=msg.value(),
        timestamp_ms=msg.timestamp()[1],
        headers=tuple((k, v.encode() if isinstance(v, str) else v) for k, v in pairs),
    )


def _wait_for_partitions(consumer: Consumer, topic: str, deadline: float) -> list[int]:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"topic {topic!r} has no metadata on the broker")
        try:
            meta = consumer.list_topics(topic=topic, timeout=min(5.0, remaining)).topics[topic]
        except KafkaException:
            continue
        if meta.error is None and meta.partitions:
            return sorted(meta.partitions)
        time.sleep(0.05)  # poll interval, bounded by the deadline


# --------------------------------------------------------------------------- kcat


@cache
def _bundled_librdkafka_dir() -> str:
    """A temp dir with `librdkafka.so.1` -> the librdkafka bundled in the confluent-kafka wheel."""
    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    candidates = sorted(libs.glob("librdkafka*.so*"))
    if not candidates:
        pytest.fail(f"no bundled librdkafka in {libs}", pytrace=False)
    folder = tempfile.mkdtemp(prefix="roomrank-librdkafka-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.symlink(candidates[0], os.path.join(folder, "librdkafka.so.1"))
    return folder


def kcat_env(bundled_librdkafka: bool | None = None) -> dict[str, str]:
    """Environment for running kcat.

    Debian's kcat links librdkafka 2.0.x, which works against Kafka 4.x as measured here. With
    `bundled_librdkafka` (default: env ROOMRANK_KCAT_LIBRDKAFKA=bundled) kcat runs on the newer
    librdkafka shipped in the confluent-kafka wheel instead.
    """
    if bundled_librdkafka is None:
        bundled_librdkafka = os.environ.get("ROOMRANK_KCAT_LIBRDKAFKA") == "bundled"
    env = dict(os.environ)
    if bundled_librdkafka:
        folder = _bundled_librdkafka_dir()
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (folder, env.get("LD_LIBRARY_PATH", "")) if p
        )
    return env


def _kcat_binary() -> str:
    found = shutil.which("kcat") or shutil.which("kafkacat")
    if found is None:
        pytest.fail("kcat not found: apt-get install -y kcat", pytrace=False)
    return found


def kcat_consume(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float = 30.0,
    *,
    bundled_librdkafka: bool | None = None,
) -> list[tuple[Key, Value]]:
    """Read `count` messages of `topic` from the beginning with kcat; (key, value) bytes.

    Binary-safe: kcat prints each message as `<key length>|<value length>|<key><value>`
    (length -1 for null). Fails the test if `count` messages do not arrive in `timeout`.
    """
    cmd = [
        _kcat_binary(),
        "-b", bootstrap,
        "-C", "-t", topic,
        "-o", "beginning",
        "-c", str(count),
        "-q",
        "-f", "%K|%S|%k%s",
    ]  # fmt: skip
    try:
        result = subprocess.run(
            cmd,
            env=kcat_env(bundled_librdkafka),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = _parse_kcat(exc.stdout or b"") if exc.stdout else []
        stderr = (exc.stderr or b"").decode(errors="replace")
        pytest.fail(
            f"kcat read {len(partial)} of {count} messages from {topic!r} in {timeout}s\n{stderr}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"kcat exited {result.returncode}: {result.stderr.decode(errors='replace')}",
            pytrace=False,
        )
    return _parse_kcat(result.stdout)


def _parse_kcat(out: bytes) -> list[tuple[Key, Value]]:
    messages: list[tuple[Key, Value]] = []
    pos = 0
    while pos < len(out):
        klen_end = out.index(b"|", pos)
        vlen_end = out.index(b"|", klen_end + 1)
        klen = int(out[pos:klen_end])
        vlen = int(out[klen_end + 1 : vlen_end])
        pos = vlen_end + 1
        key = None if klen < 0 else out[pos : pos + klen]
        pos += max(klen, 0)
        value = None if vlen < 0 else out[pos : pos + vlen]
        pos += max(vlen, 0)
        messages.append((key, value))
    return messages


@pytest.fixture(scope="session")
def kafka_tools() -> SimpleNamespace:
    """The helper functions, for test modules that should not import conftest."""
    return SimpleNamespace(
        create_topic=create_topic,
        unique_topic=unique_topic,
        produce_all=produce_all,
        consume_all=consume_all,
        kcat_consume=kcat_consume,
        kcat_env=kcat_env,
        Record=Record,
    )
