"""The StatefulSet's shell snippets run for real, ``python`` stubbed where it starts Bytewax."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploy_files import DATAFLOW, RECOVERY_DIR, container, statefulset
from tests.deploy.shell import base_env, shell_python


def _k8s_script(name: str, init: bool) -> str:
    pod = statefulset()["spec"]["template"]["spec"]
    c = container(pod, name, init=init)
    assert c["command"] == ["/bin/sh", "-c"]
    (script,) = c["args"]
    return script


def test_k8s_shell_snippets_are_valid_sh() -> None:
    for name, init in (("roomrank", False), ("recovery-init", True)):
        result = subprocess.run(
            ["/bin/sh", "-n", "-c", _k8s_script(name, init)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_k8s_recovery_init_creates_partitions_once_on_process_zero(tmp_path: Path) -> None:
    script = _k8s_script("recovery-init", init=True)
    bindir = shell_python(tmp_path)
    runs = {}
    for hostname in ("roomrank-0", "roomrank-1"):
        recovery = tmp_path / hostname
        recovery.mkdir()
        (recovery / "lost+found").mkdir()  # what a fresh ext4 volume holds
        env = base_env(bindir, HOSTNAME=hostname, RECOVERY_PARTITIONS="12")
        body = script.replace(RECOVERY_DIR, str(recovery))
        for attempt in (1, 2):
            result = subprocess.run(
                ["/bin/sh", "-c", body],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            runs[hostname, attempt] = {p.name: p.stat().st_mtime_ns for p in recovery.iterdir()}
    expected = {f"part-{i}.sqlite3" for i in range(12)} | {"lost+found"}
    assert set(runs["roomrank-0", 1]) == expected
    assert runs["roomrank-0", 2] == runs["roomrank-0", 1], "re-running must not touch them"
    assert set(runs["roomrank-1", 1]) == set(runs["roomrank-1", 2]) == {"lost+found"}


_STUB = """\
import json, os, signal, sys
if sys.argv[1] == "-c":  # the DNS wait: pretend the name resolves
    sys.exit(0)
print("STUB-ARGS " + json.dumps(sys.argv[1:]), flush=True)
signal.pause()  # until SIGTERM, with its default action
"""


def _stub_python(tmp_path: Path) -> Path:
    bindir = tmp_path / "stubbin"
    bindir.mkdir()
    exe = bindir / "python"
    exe.write_text(f"#!{sys.executable}\n{_STUB}")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bindir


def _read_line_with(proc: subprocess.Popen[bytes], prefix: str, timeout: float) -> str:
    """The rest of the first stdout line starting with ``prefix`` (raw reads: no buffering
    can hide a line from select)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    data = b""
    while True:
        for line in data.decode(errors="replace").splitlines(keepends=True):
            if line.startswith(prefix) and line.endswith("\n"):
                return line[len(prefix) :]
        if not sel.select(timeout):
            pytest.fail(f"no {prefix!r} line within {timeout}s; saw {data!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            pytest.fail(f"wrapper exited before starting Bytewax; saw {data!r}")
        data += chunk


def test_k8s_wrapper_derives_process_id_and_forwards_sigterm(tmp_path: Path) -> None:
    script = _k8s_script("roomrank", init=False)
    env = base_env(
        _stub_python(tmp_path),
        HOSTNAME="roomrank-1",
        CLUSTER_SIZE="3",
        CLUSTER_SERVICE="roomrank-cluster",
        CLUSTER_PORT="2101",
        ROOMRANK_SNAPSHOT_SECS="30",
        ROOMRANK_BACKUP_SECS="60",
    )
    # Own session: cleanup can kill the wrapper and the stubbed Bytewax together.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=0,
        start_new_session=True,
    )
    try:
        argv = json.loads(_read_line_with(proc, "STUB-ARGS ", timeout=30))
        assert argv == [
            "-m",
            "bytewax.run",
            DATAFLOW,
            "-w",
            "1",
            "-i",
            "1",
            "-a",
            "roomrank-0.roomrank-cluster:2101;roomrank-1.roomrank-cluster:2101;"
            "roomrank-2.roomrank-cluster:2101",
            "-r",
            RECOVERY_DIR,
            "-s",
            "30",
            "-b",
            "60",
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_k8s_wrapper_refuses_an_ordinal_beyond_cluster_size(tmp_path: Path) -> None:
    script = _k8s_script("roomrank", init=False)
    env = base_env(
        _stub_python(tmp_path),
        HOSTNAME="roomrank-2",
        CLUSTER_SIZE="2",
        CLUSTER_SERVICE="roomrank-cluster",
        CLUSTER_PORT="2101",
        ROOMRANK_SNAPSHOT_SECS="30",
        ROOMRANK_BACKUP_SECS="60",
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 64
    assert "CLUSTER_SIZE" in result.stderr and "STUB-ARGS" not in result.stdout
