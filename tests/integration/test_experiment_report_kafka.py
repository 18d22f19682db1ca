"""``roomrank experiment report --brokers``: the readout from the Kafka topics, for real.

A closed-loop run writes its events, pushes and experiment log as files; the same records
go to three topics with several partitions, some twice (at-least-once delivery) and with
records the readout cannot use. The report from the topics must equal the report from the
files, end while records keep arriving, and say clearly what is wrong when a topic or the
broker is not there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _roomrank(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A closed-loop run with an adaptive allocation and a holdout (ghosts, assignments)."""
    d = tmp_path_factory.mktemp("closed-loop")
    files = {"events": d / "e.jsonl", "recs": d / "r.jsonl", "log": d / "g.jsonl"}
    done = _roomrank(
        "simulate", "--closed-loop", "--seed", "5", "--rooms", "3", "--viewers", "150",
        "--minutes", "10", "--output", str(files["events"]), "--recs", str(files["recs"]),
        "--experiment-log", str(files["log"]),
        "--arms", "attention=0.4,control=0.3,holdout=0.3", "--allocation", "thompson",
        "--allocation-min-pushes", "10",
    )
    assert done.returncode == 0, done.stderr.decode()
    return files


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _keyed(lines: list[bytes], key: str) -> list[tuple[bytes, bytes]]:
    return [(str(orjson.loads(line)[key]).encode(), line) for line in lines]


def _topics(kafka_bootstrap: str, kafka_tools: SimpleNamespace, files: dict[str, Path],
            ) -> tuple[str, str, str]:
    """The run's records in three topics, a fifth of each sent twice, plus unusable ones."""
    names = tuple(kafka_tools.unique_topic(n) for n in ("events", "recs", "log"))
    for name, partitions in zip(names, (3, 4, 2), strict=True):
        kafka_tools.create_topic(kafka_bootstrap, name, partitions)
    for name, path, key in zip(names, files.values(), ("room_id", "user_id", "user_id"),
                               strict=True):
        records = _keyed(_lines(path), key)
        again = records[::5]
        junk = [(b"x", b"not json"), (b"y", b'{"rec_id":"half a record"}'), (b"z", None)]
        kafka_tools.produce_all(kafka_bootstrap, name, records + junk + again)
    return names


def _report(kafka_bootstrap: str, names: tuple[str, str, str],
            *more: str) -> subprocess.CompletedProcess[bytes]:
    return _roomrank("experiment", "report", "--brokers", kafka_bootstrap,
                     "--input-topic", names[0], "--output-topic", names[1],
                     "--experiment-topic", names[2], "--json", *more)


def test_the_report_from_the_topics_equals_the_report_from_the_files(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, run_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    from_files = _roomrank("experiment", "report", "--events", str(run_files["events"]),
                           "--recs", str(run_files["recs"]), "--experiment-log",
                           str(run_files["log"]), "--json")
    assert from_files.returncode == 0, from_files.stderr.decode()
    names = _topics(kafka_bootstrap, kafka_tools, run_files)
    from_topics = _report(kafka_bootstrap, names, "--html", str(tmp_path / "page"))
    assert from_topics.returncode == 0, from_topics.stderr.decode()
    expected = orjson.loads(from_files.stdout)
    assert set(expected["arms"]) == {"attention", "control", "holdout"}
    assert expected["arms"]["holdout"]["pushes"] > 0 and expected["arms"]["attention"]["opens"]
    assert orjson.loads(from_topics.stdout) == expected
    err = from_topics.stderr.decode()
    for name in names:  # three unusable records in each topic, each said
        assert f"topic {name}: skipped 3 of " in err, err
    assert (tmp_path / "page" / "index.html").is_file()


def test_the_report_ends_while_records_keep_arriving(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace, run_files: dict[str, Path],
) -> None:
    names = _topics(kafka_bootstrap, kafka_tools, run_files)
    first = _report(kafka_bootstrap, names)
    assert first.returncode == 0, first.stderr.decode()
    done = threading.Event()
    events = _keyed(_lines(run_files["events"]), "room_id")

    def keep_producing() -> None:  # redeliveries: they change no count, but never stop
        while not done.is_set():
            kafka_tools.produce_all(kafka_bootstrap, names[0], events[:200])

    producer = threading.Thread(target=keep_producing, daemon=True)
    producer.start()
    try:
        during = _report(kafka_bootstrap, names)  # subprocess timeout: 300 s
    finally:
        done.set()
        producer.join(60)
    assert during.returncode == 0, during.stderr.decode()
    assert orjson.loads(during.stdout) == orjson.loads(first.stdout)


def test_a_missing_topic_is_named_and_exit_2(
    kafka_bootstrap: str, kafka_tools: SimpleNamespace
) -> None:
    names = tuple(kafka_tools.unique_topic(n) for n in ("events", "recs", "log"))
    kafka_tools.create_topic(kafka_bootstrap, names[0], 1)
    kafka_tools.create_topic(kafka_bootstrap, names[2], 1)
    done = _report(kafka_bootstrap, names)
    assert done.returncode == 2
    assert f"topic '{names[1]}' does not exist at '{kafka_bootstrap}'" in done.stderr.decode()


def test_an_unreachable_broker_is_said_within_the_timeout() -> None:
    done = _roomrank("experiment", "report", "--brokers", "127.0.0.1:1",
                     "--kafka-timeout", "2")
    assert done.returncode == 2
    assert "could not reach Kafka at '127.0.0.1:1' in 2 s" in done.stderr.decode()
