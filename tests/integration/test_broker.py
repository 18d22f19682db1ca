"""The local Kafka broker (deploy/kafka/local-kafka) and the integration helpers, for real."""

from __future__ import annotations

import os
import socket
import subprocess
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from confluent_kafka import Producer

pytestmark = pytest.mark.integration

LOCAL_KAFKA = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "local-kafka"

N = 500


def keyed_records(n: int, start: int = 0) -> list[tuple[bytes, bytes]]:
    return [(f"room-{i % 7}".encode(), f"event-{i}".encode()) for i in range(start, start + n)]


def test_produce_and_read_back_with_keys(kafka_bootstrap: str, kafka_tools: SimpleNamespace):
    topic = kafka_tools.unique_topic("keys")
    kafka_tools.create_topic(kafka_bootstrap, topic, 3)
    sent = keyed_records(N)

    assert kafka_tools.produce_all(kafka_bootstrap, topic, sent) == N
    got = kafka_tools.consume_all(kafka_bootstrap, topic, until=lambda rs: len(rs) >= N)

    assert sorted((r.key, r.value) for r in got) == sorted(sent)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for r in got:
        partitions_of_key[r.key].add(r.partition)
    assert all(len(ps) == 1 for ps in partitions_of_key.values()), partitions_of_key
    assert len(set().union(*partitions_of_key.values())) > 1, "all keys on one partition"
    # Within a key (so within its partition), offsets follow the order of production.
    by_offset = sorted(got, key=lambda r: (r.partition, r.offset))
    for key in partitions_of_key:
        assert [r.value for r in by_offset if r.key == key] == [v for k, v in sent if k == key]

    # Without `until`, consume_all reads every partition to its end: exactly N, no duplicates.
    assert len(kafka_tools.consume_all(kafka_bootstrap, topic)) == N


@pytest.mark.parametrize("bundled", [False, True], ids=["debian-librdkafka", "bundled-librdkafka"])
def test_kcat_reads_what_confluent_kafka_wrote(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, bundled: bool
):
    topic = kafka_tools.unique_topic("kcat")
    kafka_tools.create_topic(kafka_bootstrap, topic, 2)
    awkward: list[tuple[bytes | None, bytes | None]] = [
        (None, b"no key"),
        (b"tombstone", None),
        (b"", b""),
        (b"bin\x00\xff|\n", b"line\nbreak|pipe\x00nul"),
    ]
    sent = keyed_records(N) + awkward

    kafka_tools.produce_all(kafka_bootstrap, topic, sent)
    got = kafka_tools.kcat_consume(kafka_bootstrap, topic, len(sent), bundled_librdkafka=bundled)

    assert sorted(got, key=repr) == sorted(sent, key=repr)


def test_stop_start_keeps_address_and_data(kafka_broker, kafka_tools: SimpleNamespace):
    bootstrap = kafka_broker.bootstrap
    topic = kafka_tools.unique_topic("restart")
    kafka_tools.create_topic(bootstrap, topic, 2)
    # One long-lived producer across the restart, as a running job would have.
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "reconnect.backoff.max.ms": 500,
        }
    )
    before = keyed_records(N)
    kafka_tools.produce_all(bootstrap, topic, before, producer=producer)

    kafka_broker.stop()
    code, out = kafka_broker.status()
    assert (code, out.split()[0]) == (3, "stopped"), out

    assert kafka_broker.start() == bootstrap
    code, out = kafka_broker.status()
    assert code == 0 and bootstrap in out, out
    assert kafka_broker.start() == bootstrap  # start while running: just the address

    after = keyed_records(N, start=N)
    kafka_tools.produce_all(bootstrap, topic, after, producer=producer, timeout=60)
    got = kafka_tools.consume_all(bootstrap, topic, until=lambda rs: len(rs) >= 2 * N)
    assert sorted((r.key, r.value) for r in got) == sorted(before + after)


def _local_kafka(state_dir: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LOCAL_KAFKA), command],
        env={**os.environ, "ROOMRANK_KAFKA_DIR": str(state_dir), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_start_refuses_a_port_in_use(tmp_path: Path):
    state = tmp_path / "kafka"
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = str(other.getsockname()[1])
        try:
            result = _local_kafka(state, "start", ROOMRANK_KAFKA_PORT=taken)
        finally:
            _local_kafka(state, "stop")
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"local-kafka: ROOMRANK_KAFKA_PORT={taken} is already in use" in result.stderr


def test_start_failure_reports_why_and_leaves_nothing_running(tmp_path: Path):
    state = tmp_path / "kafka"
    try:
        # A heap too small for the JVM to even start: the broker process dies at once.
        result = _local_kafka(state, "start", ROOMRANK_KAFKA_JAVA_OPTS="-Xmx1m -Xms1m")
        status = _local_kafka(state, "status")
    finally:
        _local_kafka(state, "stop")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "local-kafka: broker exited during startup" in result.stderr
    assert "too small maximum heap" in result.stderr.lower()  # the tail of the broker's output
    assert status.returncode == 3 and status.stdout.startswith("stopped"), status
