"""``roomrank bench`` in its tiny size: every key is there with a sane value.

Speeds are reported by the bench, never asserted here.
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from flows.bench.run import TARGETS, exit_status, format_table, run_bench, targets

TARGET_NAMES = {name for name, *_ in TARGETS}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    capture = tmp_path_factory.mktemp("stdout") / "table.txt"
    with capture.open("w") as fh, contextlib.redirect_stdout(fh):
        code = run_bench(quick=True, json_file=str(out), brokers=None, scale="tiny")
    return code, orjson.loads(out.read_bytes()), Path(capture).read_text()


def test_tiny_bench_runs_without_errors(tiny) -> None:
    code, result, table = tiny
    assert result["errors"] == []
    assert code == exit_status(result)  # 0, or 3 where this busy machine missed a target
    assert result["bench"]["scale"] == "tiny"
    assert "Targets" in table and "job / passthrough" in table


def test_throughput_keys(tiny) -> None:
    _, r, table = tiny
    assert r["input"]["events"] > 100 and r["input"]["pushes"] > 0
    for key in ("passthrough_eps", "job_eps", "job_vs_passthrough"):
        assert _positive(r[key]["file"]), key
        assert r[key]["kafka"] is None, key  # no --brokers: not measured, never invented
    assert math.isclose(r["job_vs_passthrough"]["file"],
                        r["job_eps"]["file"] / r["passthrough_eps"]["file"])
    assert _positive(r["skeleton_eps"]["file"]) and r["skeleton_eps"]["kafka"] is None
    assert math.isclose(r["skeleton_vs_passthrough"]["file"],
                        r["skeleton_eps"]["file"] / r["passthrough_eps"]["file"])
    room = r["room_us_per_event"]["file"]
    assert math.isclose(room["measured"],
                        1e6 / r["job_eps"]["file"] - 1e6 / r["skeleton_eps"]["file"])
    assert math.isclose(room["budget_at_target"], 1e6 / (0.6 * r["passthrough_eps"]["file"])
                        - 1e6 / r["skeleton_eps"]["file"])
    assert r["room_us_per_event"]["kafka"] is None
    floor = r["room_floor_us_per_event"]
    assert set(floor) == {"dedup_reorder", "floor", "no_choice_step", "choice_arithmetic_free",
                          "room"}
    assert all(_positive(us) for us in floor.values())
    assert "the floor" in table and "Newton steps free" in table


def test_ranking_keys(tiny) -> None:
    _, r, _ = tiny
    assert set(r["rank_ms"]) == set(r["matmul_ms"]) == set(r["rank_ms_median"])
    assert {"1000x50", "1000x200"} <= set(r["rank_ms"])
    for key in r["rank_ms"]:
        viewers, items = key.split("x")
        assert int(viewers) > 0 and int(items) in (50, 200)
        assert _positive(r["rank_ms"][key]) and _positive(r["matmul_ms"][key])
        assert r["rank_ms_median"][key] >= r["rank_ms"][key]


def test_fanout_learner_and_state_keys(tiny) -> None:
    _, r, _ = tiny
    assert _positive(r["fanout_ms"]["file"]) and r["fanout_ms"]["kafka"] is None
    assert _positive(r["encode_ms"]) and r["encode_pushes"] == r["fanout_viewers"]
    for key in ("learn_eps", "learn_sequential_eps", "river_learn_eps", "facade_learn_eps",
                "bytes_per_viewer", "bytes_per_item"):
        assert _positive(r[key]), key
    assert r["learn_same_update_max_diff"] < 1e-9  # the two learners do the same work
    assert r["learn_many_max_diff"] < 1e-9  # the batched path applies the same updates
    assert 1 <= r["learn_waves"] <= r["learn_events"]
    job = r["learn_job_detail"]
    assert 1 <= job["batches"] <= job["updates"] and job["largest"] <= job["updates"]
    assert 0 <= job["vectorised"] <= job["batches"]
    assert _positive(r["learn_job_eps"])
    assert math.isclose(r["learn_job_vs_river"], r["learn_job_eps"] / r["river_learn_eps"])
    assert r["state_detail"]["bytes_per_viewer_with_dedup"] >= r["bytes_per_viewer"]
    assert _positive(r["state_detail"]["bytes_per_viewer_at_capacity"])
    churn = r["state_bytes_after_churn"]
    assert len(churn) >= 2 and all(_positive(v) for v in churn.values())
    detail = r["churn_detail"]
    assert set(detail["open_rooms"]) == set(churn) == set(detail["long_room_bytes"])
    for day in churn:
        assert 0 < detail["state_bytes_without_closed"][day] <= churn[day]
        assert 0 <= detail["closed_but_held"][day] < detail["open_rooms"][day]


def test_machine_facts(tiny) -> None:
    _, r, _ = tiny
    m = r["machine"]
    assert m["cpus"] >= 1
    for key in ("python", "numpy", "bytewax", "river"):
        assert isinstance(m[key], str) and m[key], key
    assert datetime.fromisoformat(m["timestamp"]).tzinfo is not None


def test_every_target_is_reported(tiny) -> None:
    _, r, _ = tiny
    assert set(r["targets"]) == TARGET_NAMES
    for name, t in r["targets"].items():
        assert t["pass"] in (True, False, None), name
        assert (t["pass"] is None) == (t["value"] is None), name
    for measured in ("job_vs_passthrough_file", "learn_vs_river", "bytes_per_viewer",
                     "churn_flat"):
        assert r["targets"][measured]["pass"] is not None, measured
    # sizes the tiny bench does not reach are not measured, not guessed
    assert r["targets"]["rank_1m"]["pass"] is None
    assert r["targets"]["fanout_100k_kafka"]["pass"] is None


def test_targets_pass_and_fail_on_the_stated_limits() -> None:
    result: dict[str, Any] = {
        "job_vs_passthrough": {"file": 0.6, "kafka": 0.59},
        "rank_ms": {"100000x50": 80.0, "1000000x50": 1600.0},
        "matmul_ms": {"100000x50": 10.0},
        "fanout_viewers": 100_000,
        "fanout_ms": {"file": 900.0, "kafka": 1500.0},
        "learn_eps": 500_000.0,
        "river_learn_eps": 100_000.0,
        "bytes_per_viewer": 513.0,
        "state_bytes_after_churn": {"6h": 100, "24h": 120},
        "churn_detail": {"growth": 1.2},
    }
    verdicts = {name: t["pass"] for name, t in targets(result).items()}
    assert verdicts == {
        "job_vs_passthrough_file": True,
        "job_vs_passthrough_kafka": False,
        "rank_vs_matmul_100k": True,
        "rank_100k": True,
        "rank_1m": False,
        "fanout_100k_kafka": True,
        "learn_vs_river": True,
        "bytes_per_viewer": False,
        "churn_flat": True,
    }
    table = format_table({"bench": {"scale": "x"}, "machine": {
        "timestamp": "t", "cpus": 2, "cpu_model": "m", "python": "3", "numpy": "2",
        "bytewax": "0", "river": "0", "loadavg_start": None}, "targets": targets(result),
        "errors": []})
    assert "FAIL" in table and "PASS" in table
    assert exit_status({"targets": targets(result), "errors": []}) == 3


def test_bench_exit_status_gates_on_failed_targets_and_errors() -> None:
    def fake(*verdicts: bool | None, errors: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"errors": list(errors),
                "targets": {f"t{i}": {"pass": v} for i, v in enumerate(verdicts)}}

    assert exit_status(fake(True, None)) == 0  # not measured here fails nothing
    assert exit_status(fake(True, False)) == 3
    assert exit_status(fake(True, errors=("ranking: boom",))) == 1
