"""The deployed flow, run as real Bytewax processes: N processes push exactly what 1 does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.flows.helpers import (
    CLOSED_LOOP_ARMS,
    assert_replays,
    moved_shares,
    read_jsonl,
    split_experiment_log,
    stable,
    world_lines,
)


class Outputs(NamedTuple):
    pushes: list[dict]
    dead: list[dict]
    log: list[dict]  # the experiment log: ghost pushes and assignments


def _run(tmp: Path, name: str, processes: int, workers: int, **settings: str) -> Outputs:
    """``flows.deployed`` over ``tmp/events.jsonl`` in file mode, as ``processes`` local
    processes; ``settings`` are ``ROOMRANK_*`` variables (``arms="..."``)."""
    out, dead, log = (tmp / f"{name}{tail}.jsonl" for tail in ("", "-dead", "-experiment"))
    env = {
        **os.environ,
        "ROOMRANK_INPUT": str(tmp / "events.jsonl"),
        "ROOMRANK_OUTPUT": str(out),
        "ROOMRANK_DEAD_LETTERS": str(dead),
        "ROOMRANK_EXPERIMENT_LOG": str(log),
        "ROOMRANK_METRICS_PORT": "0",
        **{f"ROOMRANK_{key.upper()}": value for key, value in settings.items()},
    }
    env.pop("ROOMRANK_BROKERS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bytewax.testing",
            "flows.deployed:flow",
            "-p",
            str(processes),
            "-w",
            str(workers),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Outputs(*(read_jsonl(path) if path.exists() else [] for path in (out, dead, log)))


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("procs")
    lines = world_lines(seed=5, rooms=12, viewers=300, minutes=10)  # r-010+ hash to process 1
    lines.insert(100, b'{"event_id": 7}')  # one dead letter, to compare those too
    (tmp / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return tmp


def test_two_processes_push_the_same_as_one(events_dir: Path) -> None:
    one, one_dead, _ = _run(events_dir, "p1", processes=1, workers=1)
    two, two_dead, _ = _run(events_dir, "p2", processes=2, workers=1)
    assert len(one) > 300
    assert len({p["room_id"] for p in one}) == 12
    assert stable(two) == stable(one)
    assert one_dead == two_dead and len(one_dead) == 1 and one_dead[0]["offset"] == 101


def test_two_workers_in_one_process_push_the_same_as_one(events_dir: Path) -> None:
    one, _, _ = _run(events_dir, "w1", processes=1, workers=1)
    two, _, _ = _run(events_dir, "w2", processes=1, workers=2)
    assert stable(two) == stable(one)


def test_bytewax_run_serves_bytewax_and_roomrank_metrics(tmp_path: Path) -> None:
    """Under ``bytewax.run`` with its dataflow API on, Bytewax's own metrics and the job's
    share one endpoint. The input is a FIFO held open, so the job is still running."""
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    env = {
        **os.environ,
        "ROOMRANK_INPUT": str(fifo),
        "ROOMRANK_OUTPUT": str(tmp_path / "o"),
        "ROOMRANK_DEAD_LETTERS": str(tmp_path / "d"),
        "ROOMRANK_METRICS_PORT": "0",
        "BYTEWAX_DATAFLOW_API_ENABLED": "1",
        "BYTEWAX_DATAFLOW_API_PORT": str(port),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    job = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.deployed:flow"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
    )
    try:
        with fifo.open("wb") as feed:  # blocks until the job opens its input
            feed.write(b"\n".join(world_lines(seed=6, rooms=2, viewers=50, minutes=3)) + b"\n")
            feed.flush()
            text, deadline = "", time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as page:
                        text = page.read().decode()
                except OSError:
                    text = ""
                if "roomrank_events_total{" in text and "bytewax_" in text:
                    break
                time.sleep(0.2)  # poll interval, bounded by the deadline
            assert "roomrank_events_total{" in text, text[-2000:]
            assert "bytewax_" in text
        assert job.wait(timeout=60) == 0
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()


@pytest.mark.parametrize("allocation", ["fixed", "thompson"])
def test_two_processes_replay_the_closed_loop(tmp_path: Path, allocation: str) -> None:
    """The closed loop's written stream (push opens included) through 2 processes gives
    the closed loop's pushes, ghost pushes and assignments. 10 pushes per arm before the
    shares move (not 200), so that they do move in a world this small."""
    from flows.settings import Settings
    from models.sim.closed_loop import run_closed_loop, write_jsonl

    experiment = {"arms": CLOSED_LOOP_ARMS, "allocation": allocation,
                  "allocation_min_pushes": "10"}
    settings = Settings.load(experiment, env={})
    run = run_closed_loop(settings.room, seed=6, rooms=12, viewers=300, minutes=8)
    write_jsonl(str(tmp_path / "events.jsonl"), run.events)
    two = _run(tmp_path, "p2", processes=2, workers=1, **experiment)
    assert len({p["room_id"] for p in run.pushes}) == 12
    assert any(e["type"] == "push_open" for e in run.events)
    assert_replays(run, two.pushes, two.log)
    ghosts, assignments = split_experiment_log(two.log)
    assert ghosts and two.dead == []
    if allocation == "thompson":
        assert moved_shares(assignments, CLOSED_LOOP_ARMS)
    else:
        assert assignments == []
