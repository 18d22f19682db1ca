"""``roomrank --help`` and ``roomrank run --help`` as a newcomer reads them (issue 11)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from flows.settings import GROUPS, SETTINGS
from tests.flows.test_cli import ROOT


def _help(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def test_every_setting_is_in_exactly_one_group() -> None:
    grouped = [name for members in GROUPS.values() for name in members]
    assert sorted(grouped) == sorted(s.name for s in SETTINGS)


def test_run_help_shows_its_flags_in_sections_in_order() -> None:
    text = _help("run")
    titles = ["input and output:", "room behaviour:", "learning:", "Kafka:", "recovery:",
              "operations:"]
    at = [text.index("\n" + t + "\n") for t in titles]
    assert at == sorted(at)
    for title, members in GROUPS.items():
        section = text[text.index("\n" + title + ":\n"):]
        section = section[: section.find("\n\n", 1) if "\n\n" in section[1:] else None]
        for name in members:
            assert "--" + name.replace("_", "-") in section, (title, name)
    io_section = text[text.index("\ninput and output:\n"):text.index("\nroom behaviour:\n")]
    assert "--input" in io_section and "--workers" in io_section
    flat_io, flat = " ".join(io_section.split()), " ".join(text.split())
    assert "worker threads" in flat_io and "Kafka mode runs one worker" in flat_io  # --workers
    assert "normalised to sum to 1" in flat  # --arms shares


def test_top_level_help_names_the_packages() -> None:
    text = _help()
    for package in ("flows/connectors/", "flows/bench/", "models/sim/", "models/offline/",
                    "features/contract/", "features/state/", "models/learners/"):
        assert package in text, package


def test_an_unknown_flag_prints_the_subcommands_usage() -> None:
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--bogus", "1"], cwd=ROOT,
                          capture_output=True, timeout=120)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("usage: roomrank run ") and "--dead-letters" in err
    assert err.strip().endswith("roomrank run: error: unrecognized arguments: --bogus 1")


def test_the_jobs_import_graph_has_no_edge_to_bench_or_the_simulator(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"  # the deployed flow refuses an input that is not there
    events.touch()
    code = (
        "import os, sys\n"
        f"os.environ.update(ROOMRANK_INPUT={str(events)!r}, ROOMRANK_OUTPUT='o',"
        " ROOMRANK_DEAD_LETTERS='d')\n"
        "import flows.jobs, flows.dataflow, flows.deployed\n"
        "print(' '.join(sorted(m for m in sys.modules\n"
        "    if m.startswith(('flows.bench', 'models.sim', 'models.offline')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == ""
