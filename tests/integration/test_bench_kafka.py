"""``roomrank bench --brokers`` against the real test broker, at the tests' tiny size: the
Kafka runs of the three flows (passthrough, skeleton, job) each read back every output they
owe, and the Kafka numbers are computed from them (values are not asserted: speed is the
bench's business, never a test's)."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import orjson

from flows.bench.run import exit_status, run_bench


def test_tiny_bench_measures_all_three_flows_on_kafka(kafka_bootstrap: str, tmp_path: Path) -> None:
    out, capture = tmp_path / "bench.json", tmp_path / "table.txt"
    with capture.open("w") as fh, contextlib.redirect_stdout(fh):  # a real file: has .buffer
        code = run_bench(quick=True, json_file=str(out), brokers=kafka_bootstrap, scale="tiny")
    r = orjson.loads(out.read_bytes())
    # every section ran; the exit status says whether a measured target failed (at the tests'
    # tiny size the throughput targets usually do: speed is the bench's business, not this test's)
    assert r["errors"] == [] and code == exit_status(r) and code in (0, 3)
    kafka = r["throughput_seconds"]["kafka"]
    events, pushes = r["input"]["events"], r["input"]["pushes"]
    for kind, expected in (("passthrough", events), ("skeleton", events), ("job", pushes)):
        run = kafka[kind]
        assert run["complete"] and run["outputs"] == run["expected"] == expected, kind
        assert run["seconds"] > 0, kind
    eps = {kind: events / kafka[kind]["seconds"] for kind in ("passthrough", "skeleton", "job")}
    assert math.isclose(r["skeleton_eps"]["kafka"], eps["skeleton"])
    assert math.isclose(r["skeleton_vs_passthrough"]["kafka"], eps["skeleton"] / eps["passthrough"])
    room = r["room_us_per_event"]["kafka"]
    assert math.isclose(room["measured"], 1e6 / eps["job"] - 1e6 / eps["skeleton"])
    assert math.isclose(room["budget_at_target"],
                        1e6 / (0.6 * eps["passthrough"]) - 1e6 / eps["skeleton"])
    assert r["targets"]["job_vs_passthrough_kafka"]["value"] is not None
    assert "left them by 0.6x" in capture.read_text()
