"""The cluster entrypoint's recovery store (``bytewax.run flows.deployed:flow -r DIR``) held
to ``roomrank run``'s rules (found by a red team: a resume with another input skipped 26,926
of its lines, another dim panicked in 86 lines, a second job took over a store in use, and
ROOMRANK_RECOVERY_DIR was ignored)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.deployed_store import check_store
from flows.settings import Settings
from tests.flows.helpers import world_lines
from tests.flows.test_operator_faults import ROOT, quiet


def _deployed(tmp: Path, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ROOMRANK_")}
    files = {"ROOMRANK_INPUT": "a.jsonl", "ROOMRANK_OUTPUT": "o.jsonl",
             "ROOMRANK_DEAD_LETTERS": "d.jsonl"}
    return subprocess.run(
        [sys.executable, "-m", "bytewax.run", "flows.deployed:flow", "-w", "1", *flags],
        cwd=tmp, capture_output=True, text=True, timeout=300,
        env={**clean, **files, **env, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store the deployed job wrote over the first half of a world (its rooms still open),
    and a second world's events."""
    lines = world_lines(seed=2, rooms=3, viewers=90, minutes=6)
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    other = world_lines(seed=3, rooms=3, viewers=90, minutes=6)
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(other) + b"\n")
    done = _deployed(tmp_path, "-r", "rec", "-s", "1", "-b", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "rec" / "part-0.sqlite3").is_file()  # made, as roomrank run makes it
    return tmp_path


def _refused(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2 and quiet(done.stderr.encode()), done.stderr[-3000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("flows.deployed: error: ") and says in line, line


def test_a_resume_with_another_input_or_other_settings_is_refused(store: Path) -> None:
    _refused(_deployed(store, "-r", "rec", "-s", "1", "-b", "0", ROOMRANK_INPUT="b.jsonl"),
             "-r 'rec' was written reading")
    _refused(_deployed(store, "-r", "rec", "-s", "1", "-b", "0", ROOMRANK_DIM="16"),
             "cannot resume from -r 'rec': the recovery store was written with dim=32")
    again = _deployed(store, "-r", "rec", "-s", "1", "-b", "0")  # the same input: resumed
    assert again.returncode == 0, again.stderr[-2000:]
    assert "change arm" not in again.stderr  # the store's experiment and shares: no word


def test_a_resume_with_other_shares_goes_on_and_says_how_many_viewers_move(store: Path) -> None:
    done = _deployed(store, "-r", "rec", "-s", "1", "-b", "0",
                     ROOMRANK_ARMS="attention=0.5,control=0.5")
    assert done.returncode == 0 and quiet(done.stderr.encode()), done.stderr[-2000:]
    [line] = [line for line in done.stderr.splitlines() if "change arm" in line]
    assert ("WARNING roomrank resuming -r rec written with ROOMRANK_ARMS shares"
            " attention=0.9,control=0.1 (this run: attention=0.5,control=0.5): 40.0 % of viewers"
            " change arm from now on") in line


def test_a_store_in_use_or_named_the_other_way_is_refused(store: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--input", "-", "--output", "h.jsonl",
         "--dead-letters", "hd.jsonl", "--recovery-dir", "rec"],
        cwd=store, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stderr is not None
        holder.stderr.readline()  # its first log line: the store is claimed by then
        _refused(_deployed(store, "-r", "rec", "-s", "1", "-b", "0"),
                 f"-r 'rec' is in use by another run (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    _refused(_deployed(store, ROOMRANK_RECOVERY_DIR="rec"),
             "ROOMRANK_RECOVERY_DIR 'rec' is roomrank run's and is not read here")
    _refused(_deployed(store, "-r", "a.jsonl", "-s", "1", "-b", "0"),
             "-r 'a.jsonl' is a file, not a directory")


def test_one_process_starting_afresh_empties_its_outputs(store: Path) -> None:
    # found by a red team: a rerun without a store wrote every push again (7,646 -> 15,292)
    first = (store / "o.jsonl").read_bytes()
    assert first.count(b"\n") > 10
    again = _deployed(store)  # no -r: a fresh start
    assert again.returncode == 0, again.stderr[-2000:]
    assert (store / "o.jsonl").read_bytes().count(b"\n") == first.count(b"\n")


def test_a_cluster_process_without_partitions_has_no_store_to_check(tmp_path: Path) -> None:
    # deploy/k8s keeps the partitions on roomrank-0: the others' volumes are empty, or hold
    # only what a fresh filesystem has
    volume = tmp_path / "volume"
    (volume / "lost+found").mkdir(parents=True)
    settings = Settings.load({"recovery_dir": str(volume)}, env={})
    assert check_store(settings, cluster=True) is False
    assert sorted(p.name for p in volume.iterdir()) == ["lost+found"]  # nothing made, no lock
    assert check_store(settings, cluster=False) is True  # one process: its partition, made
    assert (volume / "part-0.sqlite3").is_file()
