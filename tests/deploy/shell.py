"""Running the deployments' shell snippets for real, with ``python`` this interpreter."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path


def shell_python(tmp_path: Path) -> Path:
    """A bin dir whose ``python`` is this interpreter (the project's venv)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "python"
    exe.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bindir


def base_env(bindir: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env
