"""``deploy/dev demo`` installs the job alone; ``deploy/dev test`` adds the test tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/bin/sh
echo "python $*" >> "{log}"
"""
FAKE_ROOMRANK = """#!/bin/sh
echo "roomrank $*" >> "{log}"
"""


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("roomrank", FAKE_ROOMRANK)):
        path = venv / "bin" / name
        path.write_text(text.format(log=log))
        path.chmod(0o755)
    return venv, log


def test_demo_installs_the_job_without_the_test_tools_once(tmp_path: Path) -> None:
    venv, log = _fake_venv(tmp_path)
    env = {**os.environ, "ROOMRANK_VENV": str(venv)}
    for _ in range(2):
        done = subprocess.run([str(ROOT / "deploy" / "dev"), "demo", "--minutes", "1"], cwd=ROOT,
                              env=env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    installs = [c for c in calls if "install -q -e" in c]
    assert installs == ["python -m pip install -q -e ."]  # the second run found its stamp
    assert calls[-1] == "roomrank demo --minutes 1"
    assert (venv / ".installed-demo").exists() and not (venv / ".installed-test").exists()
