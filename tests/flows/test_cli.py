"""The ``roomrank`` command line as a user runs it, in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from flows.settings import markdown_table
from tests.flows.helpers import read_jsonl, stable

ROOT = Path(__file__).resolve().parents[2]


def roomrank(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_simulate_run_evaluate(tmp_path: Path) -> None:
    events, recs, dead = tmp_path / "world.jsonl", tmp_path / "recs.jsonl", tmp_path / "dl.jsonl"
    made = roomrank(
        "simulate",
        "--seed",
        "4",
        "--rooms",
        "4",
        "--viewers",
        "150",
        "--minutes",
        "8",
        "--output",
        str(events),
    )
    assert made.returncode == 0, made.stderr
    lines = events.read_bytes().splitlines()
    assert b"wrote %d events" % len(lines) in made.stderr
    ran = roomrank(
        "run", "--input", str(events), "--output", str(recs), "--dead-letters", str(dead)
    )
    assert ran.returncode == 0, ran.stderr
    pushes = read_jsonl(recs)
    assert pushes and dead.read_bytes() == b""
    again = roomrank(
        "run",
        "--input",
        str(events),
        "--output",
        str(tmp_path / "again.jsonl"),
        "--dead-letters",
        str(dead),
    )
    assert again.returncode == 0 and stable(read_jsonl(tmp_path / "again.jsonl")) == stable(pushes)
    scored = roomrank("evaluate", "--events", str(events), "--recs", str(recs), "--json")
    assert scored.returncode == 0, scored.stderr
    report = orjson.loads(scored.stdout)
    assert report["coverage_mean"] == 1.0 and report["enter_coverage"] == 1.0
    assert "attention" in report["metrics"]


def test_run_reads_stdin_and_writes_stdout(tmp_path: Path) -> None:
    lines = (
        b'{"event_id":"e-1","type":"enter","ts":1000,"room_id":"r","user_id":"u"}\n\n'
        b'{"event_id":"e-2","type":"showcase","ts":2000,"room_id":"r","spotlight":null,'
        b'"items":[{"item_id":"a","price":1,"category":"c"}]}\nnot json\n'
    )
    dead = tmp_path / "dl.jsonl"  # one output per stream: two on stdout are refused
    done = roomrank("run", "--input", "-", "--output", "-", "--dead-letters", str(dead),
                    stdin=lines)
    assert done.returncode == 0, done.stderr
    [push] = [orjson.loads(line) for line in done.stdout.splitlines()]
    [letter] = read_jsonl(dead)
    assert push["user_id"] == "u" and push["items"][0]["item_id"] == "a"
    assert (letter["topic"], letter["partition"], letter["offset"]) == ("stdin", 0, 4)


def test_demo_shows_pushes_and_stops_after_its_minutes() -> None:
    done = roomrank("demo", "--rooms", "2", "--viewers", "30", "--minutes", "4", "--speed", "2000")
    assert done.returncode == 0, done.stderr
    shown = done.stdout.decode().splitlines()
    assert len(shown) > 10
    assert all("→" in line and "[" in line for line in shown)
    assert any("showcase]" in line for line in shown) and any("enter]" in line for line in shown)


def test_bad_configuration_is_one_clear_line() -> None:
    done = roomrank(
        "run",
        "--input",
        "x",
        "--output",
        "y",
        "--dead-letters",
        "z",
        "--arms",
        "attention=0.5,bandit=0.5:speed=2",
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "roomrank run: error: arm 'bandit': 'speed=2' is not KEY=VALUE with KEY one of"
        " ranker, temperature, k, cap, skip_same, holdout (in 'attention=0.5,bandit=0.5:speed=2')"
    )
    env_bad = roomrank(
        "run",
        "--input",
        "x",
        "--output",
        "y",
        "--dead-letters",
        "z",
        env={"ROOMRANK_TOP_K": "three"},
    )
    assert env_bad.returncode == 2 and b"ROOMRANK_TOP_K" in env_bad.stderr
    renamed = roomrank("run", "--input", "x", "--output", "y", "--dead-letters", "z",
                       env={"ROOMRANK_CHOICE_PRIOR_PRECISION": "3"})
    assert renamed.returncode == 2 and b"no longer read: use ROOMRANK_CHOICE_PRIOR_SCALE" in (
        renamed.stderr)
    missing = roomrank("run", "--output", "y")
    assert missing.returncode == 2 and b"--input" in missing.stderr


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, (
        "README's configuration table is stale: paste markdown_table()"
    )


def test_closed_loop_simulation_and_experiment_report(tmp_path: Path) -> None:
    events, recs, ghosts, summary = (tmp_path / n for n in ("e.jsonl", "r.jsonl", "g.jsonl",
                                                             "s.json"))
    done = roomrank(
        "simulate", "--closed-loop", "--seed", "2", "--rooms", "3", "--viewers", "120",
        "--minutes", "8", "--output", str(events), "--recs", str(recs),
        "--experiment-log", str(ghosts), "--summary-json", str(summary),
        "--arms", "attention=0.5,capped=0.2:cap=120,holdout=0.3", "--allocation", "thompson",
        "--allocation-min-pushes", "10",
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "lift buys/vh vs holdout" in done.stderr.decode()
    per_arm = orjson.loads(summary.read_bytes())
    assert set(per_arm) - {"unassigned"} == {"attention", "capped", "holdout"}
    lines = events.read_bytes().splitlines()
    assert any(orjson.loads(line)["type"] == "push_open" for line in lines)
    report = roomrank("experiment", "report", "--events", str(events), "--recs", str(recs),
                      "--experiment-log", str(ghosts), "--json")
    assert report.returncode == 0, report.stderr.decode()
    arms = orjson.loads(report.stdout)["arms"]
    assert set(arms) == {"attention", "capped", "holdout"} and arms["holdout"]["ghost"]
    assert arms["attention"]["pushes"] == per_arm["attention"]["pushes"]
    assert any(b'"kind":"assignment"' in line for line in ghosts.read_bytes().splitlines())
    assert arms["holdout"]["pushes"] == per_arm["holdout"]["ghost_pushes"]
    plain = roomrank("simulate", "--seed", "2", "--rooms", "1", "--viewers", "5",
                     "--minutes", "1", "--output", str(events), "--recs", str(recs))
    assert plain.returncode == 2 and b"need --closed-loop" in plain.stderr


def test_evaluate_against_another_run_gives_the_difference_and_its_error(tmp_path: Path) -> None:
    def made(*args: str) -> None:
        done = roomrank(*args)
        assert done.returncode == 0, done.stderr

    world, other = tmp_path / "world.jsonl", tmp_path / "other.jsonl"
    made("simulate", "--seed", "4", "--rooms", "3", "--viewers", "100", "--minutes", "6",
         "--output", str(world))
    made("simulate", "--seed", "5", "--rooms", "3", "--viewers", "100", "--minutes", "6",
         "--output", str(other))
    runs = {}
    for name, where, learner in (("fast", world, "fast"), ("river", world, "river"),
                                 ("elsewhere", other, "fast")):
        runs[name] = tmp_path / f"{name}.jsonl"
        made("run", "--input", str(where), "--output", str(runs[name]),
             "--dead-letters", str(tmp_path / "dead.jsonl"), "--learner", learner)

    def scored(recs: Path, *more: str) -> dict:
        done = roomrank("evaluate", "--events", str(world), "--recs", str(recs), "--json", *more)
        assert done.returncode == 0, done.stderr
        return orjson.loads(done.stdout)

    fast, river = scored(runs["fast"]), scored(runs["river"])
    against = scored(runs["fast"], "--against", str(runs["river"]))["against"]["arms"]
    assert next(iter(against)) == "ALL" and "attention" in against
    for arm, d in against.items():
        # the same viewers are pushed at the same triggers: the same actions are scored
        hr = [r["metrics"][arm]["pushed"]["hr"] for r in (fast, river)]
        assert d["actions"] == fast["metrics"][arm]["pushed"]["n"]
        assert abs(d["diff"] - (hr[0] - hr[1])) < 1e-12
        if d["viewers"] < 2:  # no spread to measure: JSON null, never "beyond noise"
            assert d["ci95"] is None and not d["beyond_noise"]
        else:
            assert d["beyond_noise"] == (abs(d["diff"]) > d["ci95"])
    assert against["attention"]["ci95"] > 0  # the learners differ: so do their hits
    itself = scored(runs["fast"], "--against", str(runs["fast"]))["against"]["arms"]
    assert all(d["diff"] == 0 and not d["beyond_noise"] for d in itself.values())
    table = roomrank("evaluate", "--events", str(world), "--recs", str(runs["fast"]),
                     "--against", str(runs["river"]))
    assert b"same actions" in table.stdout and b"noise" in table.stdout
    wrong = roomrank("evaluate", "--events", str(world), "--recs", str(runs["fast"]),
                     "--against", str(runs["elsewhere"]))
    assert wrong.returncode == 2
    assert b"--against" in wrong.stderr and b"no action was scored against both" in wrong.stderr
    events = roomrank("evaluate", "--events", str(world), "--recs", str(runs["fast"]),
                      "--against", str(world))
    assert events.returncode == 2 and b"--against" in events.stderr and b"rec_id" in events.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "--minutes", "inf", "--output", "-"),
        ("simulate", "--minutes", "nan", "--output", "-"),
        ("simulate", "--closed-loop", "--minutes", "1e400", "--output", "-"),
        ("demo", "--speed", "nan"),
        ("lab", "--minutes", "inf"),
        ("experiment", "coverage", "--minutes", "nan"),
        ("experiment", "report", "--brokers", "127.0.0.1:1", "--kafka-timeout", "inf"),
    ],
)
def test_a_number_that_is_not_finite_is_one_line_naming_the_flag(args: tuple[str, ...]) -> None:
    # found by a red team: `--minutes inf` ended in an OverflowError traceback, `nan` in a
    # message that named no flag
    done = roomrank(*args)
    assert done.returncode == 2
    [line] = done.stderr.decode().strip().splitlines()[-1:]
    flag = next(a for a in args if a in ("--minutes", "--speed", "--kafka-timeout"))
    assert f"argument {flag}: must be a finite number" in line
    assert "Traceback" not in done.stderr.decode() and done.stdout == b""


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "--minutes", "1e12", "--rooms", "1", "--viewers", "1", "--output", "-"),
        ("demo", "--minutes", "1e308"),
        ("lab", "--minutes", "1e308"),
        ("experiment", "coverage", "--minutes", "20000"),
    ],
)
def test_a_world_longer_than_a_week_is_one_line(args: tuple[str, ...]) -> None:
    # found by a red team: 1e12 minutes grew past a gigabyte writing nothing, 1e308
    # overflowed into a traceback
    done = roomrank(*args)
    assert done.returncode == 2
    [line] = done.stderr.decode().strip().splitlines()[-1:]
    assert "argument --minutes: must be at most 10080 (a week)" in line
    assert "Traceback" not in done.stderr.decode() and done.stdout == b""


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--experiment-log", "ghosts.jsonl"), "--experiment-log"),  # ghosts: the topic's
        (("--workers", "2"), "--workers"),  # one worker per process in Kafka mode
        (("--output", "out.jsonl"), "--output"),
    ],
)
def test_file_mode_flags_beside_brokers_are_refused_not_ignored(
    flags: tuple[str, ...], named: str
) -> None:
    # found by a red team: --experiment-log and --workers were silently ignored with --brokers
    done = roomrank("run", "--brokers", "127.0.0.1:1", *flags)
    assert done.returncode == 2
    assert f"--brokers runs between Kafka topics; drop {named} (file mode's" in (
        done.stderr.decode())
