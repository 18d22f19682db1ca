"""The console script, the dataflow import string and the deployments' commands are real."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.deploy_files import DATAFLOW, JOB_IMAGE, RECOVERY_DIR, ROOT, compose


def test_console_script_and_dataflow_entry_points_are_real(tmp_path: Path) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["roomrank"] == "flows.cli:main"
    tree = ast.parse((ROOT / "flows" / "cli.py").read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body)

    # What bytewax.run does with the import string, in a child process (importing the flow
    # sets up logging and a SIGTERM handler), in file mode so no broker is needed.
    module, attr = DATAFLOW.split(":")
    events = tmp_path / "in.jsonl"
    events.write_text("")
    code = (
        "import importlib, sys; from bytewax.dataflow import Dataflow; "
        f"flow = getattr(importlib.import_module({module!r}), {attr!r}); "
        "sys.exit(0 if isinstance(flow, Dataflow) else 3)"
    )
    env = dict(
        os.environ,
        ROOMRANK_INPUT=str(events),
        ROOMRANK_OUTPUT=str(tmp_path / "out.jsonl"),
        ROOMRANK_DEAD_LETTERS=str(tmp_path / "dead.jsonl"),
        ROOMRANK_METRICS_PORT="0",
    )
    env.pop("ROOMRANK_BROKERS", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{DATAFLOW} is not a Dataflow:\n{result.stderr}"


def test_roomrank_commands_in_deploy_files_parse() -> None:
    """Every `roomrank ...` command line the deployments use is accepted by the real CLI."""
    commands = []
    for name, svc in compose()["services"].items():
        if svc.get("image") == JOB_IMAGE and "entrypoint" not in svc:
            commands.append((name, svc.get("command", ["run"])))
    assert commands, "compose runs `roomrank` nowhere"
    from flows import cli

    for name, argv in commands:
        try:
            args = cli._parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"compose service {name}: `roomrank {' '.join(argv)}` is rejected")
        assert args.command == "run", name
        assert args.brokers and args.recovery_dir == RECOVERY_DIR, name
