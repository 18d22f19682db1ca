"""A real Prometheus server scrapes the job running in Kafka mode and finds every metric."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from features.contract.events import DEAD_LETTER_REASONS
from tests.flows.helpers import world_lines

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _query(port: int, promql: str) -> list[dict[str, Any]]:
    import urllib.parse
    import urllib.request

    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = orjson.loads(response.read())
    except OSError:
        return []
    return list(body["data"]["result"]) if body.get("status") == "success" else []


def _wait(
    port: int, promql: str, ok: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = _query(port, promql)
        if result and ok(result):
            return result
        time.sleep(0.5)  # poll interval, bounded by the deadline
    raise AssertionError(f"{promql}: no acceptable answer in {timeout}s, last: {result}")


def _values(result: list[dict[str, Any]]) -> list[float]:
    return [float(r["value"][1]) for r in result]


def _attention_in_unit_interval(result: list[dict[str, Any]]) -> bool:
    """Every arm's rate is a share; the big attention arm's is strictly between 0 and 1."""
    by_arm = {r["metric"].get("arm"): float(r["value"][1]) for r in result}
    return all(0 <= v <= 1 for v in by_arm.values()) and 0 < by_arm.get("attention", 0) < 1


@pytest.fixture
def prometheus_bin() -> str:
    path = shutil.which("prometheus")
    assert path, (
        "Debian's prometheus is needed: apt-get install -y prometheus (deploy/dev test does)"
    )
    return path


@pytest.fixture
def running_job(kafka_bootstrap: str, kafka_tools: Any, tmp_path: Path) -> Iterator[int]:
    """The job in Kafka mode over a simulated world (rooms left open) plus bad messages."""
    tools = kafka_tools
    topic_in = tools.unique_topic("prom-in")
    tools.create_topic(kafka_bootstrap, topic_in, 2)
    events = [
        e
        for e in map(orjson.loads, world_lines(seed=11, rooms=4, viewers=150, minutes=8))
        if e["type"] != "room_close"
    ]
    records = [(e["room_id"].encode(), orjson.dumps(e)) for e in events]
    records += [(b"r-bad", b"not json"), (b"r-bad", b'{"event_id":"z","type":"nope"}')]
    tools.produce_all(kafka_bootstrap, topic_in, records)
    port = _free_port()
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--brokers",
            kafka_bootstrap,
            "--input-topic",
            topic_in,
            "--output-topic",
            tools.unique_topic("prom-out"),
            "--dead-letter-topic",
            tools.unique_topic("prom-dl"),
            "--metrics-port",
            str(port),
            "--partitions",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "job.log").open("wb"),
        env={**os.environ, "ROOMRANK_LOG_LEVEL": "INFO"},
    )
    try:
        yield port
    finally:
        job.terminate()
        try:
            job.wait(timeout=30)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()


def test_prometheus_scrapes_every_metric(
    running_job: int, prometheus_bin: str, tmp_path: Path
) -> None:
    prom_port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: roomrank\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{running_job}']\n"
    )
    prom = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        _wait(prom_port, 'up{job="roomrank"}', lambda r: _values(r) == [1.0], timeout=90)
        showcases = _wait(
            prom_port, 'roomrank_events_total{type="showcase"}', lambda r: sum(_values(r)) > 10
        )
        _wait(
            prom_port, "roomrank_showcase_changes_total", lambda r: _values(r) == _values(showcases)
        )
        types = _wait(prom_port, "roomrank_events_total", lambda r: len(r) >= 10)
        assert {r["metric"]["type"] for r in types} >= {
            "enter",
            "heartbeat",
            "item_click",
            "purchase",
            "showcase",
        }
        pushes = _wait(prom_port, "roomrank_pushes_total", lambda r: len(r) >= 2)
        assert {(r["metric"]["arm"], r["metric"]["trigger"]) for r in pushes} >= {
            ("attention", "showcase"),
            ("attention", "enter"),
        }
        letters = _wait(prom_port, "roomrank_dead_letters_total", lambda r: sum(_values(r)) >= 2)
        # Every known reason is a series from the start (at zero); only these two occurred.
        assert {r["metric"]["reason"] for r in letters} == set(DEAD_LETTER_REASONS)
        occurred = {r["metric"]["reason"] for r in letters if float(r["value"][1]) > 0}
        assert occurred == {"not_json", "unknown_type"}
        _wait(prom_port, "roomrank_present_viewers", lambda r: _values(r)[0] > 0)
        _wait(prom_port, "roomrank_rooms_active", lambda r: _values(r) == [4.0])
        _wait(prom_port, "roomrank_push_latency_seconds_count", lambda r: _values(r)[0] > 0)
        p99 = _wait(
            prom_port,
            "histogram_quantile(0.99, sum(rate(roomrank_push_latency_seconds_bucket[1m])) by (le))",
            lambda r: True,
        )
        assert all(v >= 0 for v in _values(p99) if v == v)  # NaN when no recent pushes
        _wait(prom_port, "roomrank_event_lag_seconds_count", lambda r: _values(r)[0] > 0)
        lag = _wait(prom_port, "roomrank_kafka_consumer_lag", lambda r: len(r) == 2, timeout=90)
        assert all(v >= 0 for v in _values(lag))
        _wait(prom_port, "roomrank_propensity_rolling_auc", lambda r: 0.5 < _values(r)[0] <= 1)
        _wait(prom_port, "roomrank_push_hit_rate", _attention_in_unit_interval)
        conversions = _wait(
            prom_port, "roomrank_push_conversions_total", lambda r: sum(_values(r)) > 0
        )
        assert {r["metric"]["action"] for r in conversions} <= {"click", "purchase"}
        # the A/B readout the dashboard draws: clicks per push, by arm
        _wait(
            prom_port,
            'sum by (arm) (roomrank_push_conversions_total{action="click"})'
            " / sum by (arm) (roomrank_pushes_total)",
            _attention_in_unit_interval,
        )
        labels = {k for r in _query(prom_port, '{__name__=~"roomrank_.*"}') for k in r["metric"]}
        assert not labels & {"room_id", "user_id", "item_id"}
    finally:
        prom.terminate()
        prom.wait(timeout=30)
