"""A resume with another ``--experiment`` or other arm shares goes on, and says once, at
start, how many viewers change arm (``flows.resume_split``); with the store's values it says
nothing. Real ``roomrank run`` subprocesses in file mode: the warning is what is under test."""

from __future__ import annotations

import doctest
import shutil
from pathlib import Path

import pytest

import flows.resume_split
from flows.resume_split import describe, summary_note
from flows.settings import Settings
from models.arms import Arms, split_change
from tests.flows.helpers import world_lines
from tests.flows.test_operator_faults import quiet, roomrank

ARMS = "a=0.3,b=0.4,c=0.3"
FLAGS = ["--output", "out.jsonl", "--dead-letters", "dl.jsonl", "--recovery-dir", "rec"]


def _warnings(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines()
            if " WARNING " in line and "change arm" in line]


def _summary(stderr: bytes) -> str:
    """The run's last line: its summary."""
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("roomrank: "), last
    return last


def test_the_modules_examples_hold() -> None:
    result = doctest.testmod(flows.resume_split)
    assert result.failed == 0 and result.attempted > 0


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store written over half a world with ``--experiment spring --arms a=0.3,...``."""
    where = tmp_path_factory.mktemp("split")
    lines = world_lines(7, rooms=2, viewers=40, minutes=3)
    (where / "events.jsonl").write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    done = roomrank("run", "--input", "events.jsonl", *FLAGS, "--experiment", "spring",
                    "--arms", ARMS, cwd=where)
    assert done.returncode == 0, done.stderr[-2000:]
    return where


def _resume(written: Path, tmp_path: Path, *flags: str) -> bytes:
    """Resume a copy of the store (each test its own: a resume writes snapshots)."""
    shutil.copytree(written, tmp_path, dirs_exist_ok=True)
    (tmp_path / "rec" / "roomrank.lock").unlink(missing_ok=True)
    done = roomrank("run", "--input", "events.jsonl", *FLAGS, *flags, cwd=tmp_path)
    assert done.returncode == 0 and quiet(done.stderr), done.stderr[-2000:]
    return done.stderr


def test_a_resume_with_the_stores_experiment_and_shares_says_nothing(
    written: Path, tmp_path: Path
) -> None:
    stderr = _resume(written, tmp_path, "--experiment", "spring", "--arms", "a=3,b=4,c=3")
    assert b"resuming from rec" in stderr  # it did resume
    assert _warnings(stderr) == [] and b"--allocation" not in stderr
    assert "resumed with" not in _summary(stderr)


def test_a_resume_with_other_shares_says_which_and_how_many_viewers_move(
    written: Path, tmp_path: Path
) -> None:
    stderr = _resume(written, tmp_path, "--experiment", "spring", "--arms", "a=0.6,b=0.2,c=0.2")
    [line] = _warnings(stderr)
    assert line.split(" WARNING roomrank ", 1)[1] == (
        "resuming --recovery-dir rec written with --arms shares a=0.3,b=0.4,c=0.3 (this run:"
        " a=0.6,b=0.2,c=0.2): 40.0 % of viewers change arm from now on; a room keeps the arm"
        " of a viewer it holds until it forgets them. Read the experiment as two (before and"
        " after this start), or stop and resume with the store's values"
    )
    assert _summary(stderr).endswith(
        " events/s; resumed with other --arms shares: 40.0 % of viewers hashed to another arm")


def test_a_resume_with_another_experiment_name_says_the_expected_share(
    written: Path, tmp_path: Path
) -> None:
    stderr = _resume(written, tmp_path, "--experiment", "summer", "--arms", ARMS)
    [line] = _warnings(stderr)
    assert "--experiment 'spring' (this run: 'summer')" in line
    assert "an expected 66.0 % of viewers change arm" in line and "shares" not in line
    assert _summary(stderr).endswith(
        "; resumed with another --experiment: an expected 66.0 % of viewers hashed to another arm")


def test_a_resume_under_another_allocation_says_so(written: Path, tmp_path: Path) -> None:
    """Red team 13: from ``fixed`` to ``thompson`` 14 of 182 viewers changed arm unsaid."""
    stderr = _resume(written, tmp_path, "--experiment", "spring", "--arms", ARMS,
                     "--allocation", "thompson")
    said = [line for line in stderr.decode().splitlines() if "--allocation fixed" in line]
    assert len(said) == 1 and " WARNING " in said[0], stderr.decode()[-2000:]
    assert "(this run: thompson): viewers new to a room are given arms drawn" in said[0]
    assert _warnings(stderr) == []  # the shares and the name are the store's


def test_under_adaptive_allocation_the_warning_names_what_a_room_keeps() -> None:
    settings = Settings.load({"allocation": "thompson", "recovery_dir": "rec"}, env={})
    old = Arms.parse("attention=0.9,control=0.1")
    change = split_change("roomrank-v1", old, "roomrank-v1", settings.room.arms)
    assert change is None
    change = split_change("roomrank-v1", Arms.parse("attention=0.5,control=0.5"),
                          "roomrank-v1", settings.room.arms)
    assert change is not None
    said = describe(change, settings)
    assert "under --allocation thompson each room keeps the arm it gave each viewer" in said
    assert "% of viewers" not in said  # a hash split's share would be wrong here
    assert summary_note(change, settings) == "resumed with other --arms shares"


def test_a_refused_resume_says_nothing_of_the_split(written: Path, tmp_path: Path) -> None:
    """The warning comes once the resume is accepted: a refusal stays one line."""
    shutil.copytree(written, tmp_path, dirs_exist_ok=True)
    (tmp_path / "other.jsonl").write_bytes(b"\n".join(world_lines(8, rooms=2, viewers=40,
                                                                  minutes=1)) + b"\n")
    done = roomrank("run", "--input", "other.jsonl", *FLAGS, "--experiment", "spring",
                    "--arms", "a=0.6,b=0.2,c=0.2", cwd=tmp_path)
    assert done.returncode == 2 and b"was written reading" in done.stderr, done.stderr[-2000:]
    assert _warnings(done.stderr) == []
