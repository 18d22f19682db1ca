"""``KafkaBroker``: the test session's broker, started and stopped with deploy/kafka/local-kafka."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = REPO_ROOT / "deploy" / "kafka" / "local-kafka"

# First start may fetch ~45 MB of jars with Maven; the script's own readiness deadline is
# ROOMRANK_KAFKA_START_TIMEOUT (60 s).
_START_COMMAND_TIMEOUT = 900.0
_STOP_COMMAND_TIMEOUT = 120.0


class KafkaBroker:
    """The broker used by this test session.

    `managed` is True when the fixture started it with local-kafka; only then can it be stopped
    and started again (same state dir, so same address and data).
    """

    def __init__(self, bootstrap: str, state_dir: Path | None) -> None:
        self.bootstrap = bootstrap
        self.state_dir = state_dir
        self.running = state_dir is None or bool(bootstrap)

    @property
    def managed(self) -> bool:
        return self.state_dir is not None

    def _require_managed(self, action: str) -> Path:
        if self.state_dir is None:
            pytest.fail(
                f"cannot {action} the Kafka broker: KAFKA_BOOTSTRAP_SERVERS="
                f"{self.bootstrap!r} points at a broker this test session did not start. "
                "Unset KAFKA_BOOTSTRAP_SERVERS to run fault tests against a local broker "
                "(deploy/kafka/local-kafka).",
                pytrace=False,
            )
        return self.state_dir

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        state_dir = self._require_managed(command)
        env = {**os.environ, "ROOMRANK_KAFKA_DIR": str(state_dir)}
        try:
            return subprocess.run(
                ["bash", str(LOCAL_KAFKA), command],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raw = exc.stderr or b""
            stderr = raw if isinstance(raw, str) else raw.decode(errors="replace")
            pytest.fail(
                f"`local-kafka {command}` did not finish within {timeout:.0f}s "
                f"(state {state_dir}):\n{stderr}",
                pytrace=False,
            )

    def start(self) -> str:
        """Start the broker (no-op if running); returns its bootstrap address."""
        result = self._run("start", _START_COMMAND_TIMEOUT)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(
                f"`local-kafka start` failed (exit {result.returncode}):\n{result.stderr.strip()}",
                pytrace=False,
            )
        address = lines[-1].strip()
        if self.bootstrap and address != self.bootstrap:
            pytest.fail(
                f"broker came back on {address}, not on {self.bootstrap}: clients of the "
                "previous run cannot reconnect (was the port taken by another process?)\n"
                f"{result.stderr.strip()}",
                pytrace=False,
            )
        self.bootstrap = address
        self.running = True
        return address

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after a deadline)."""
        result = self._run("stop", _STOP_COMMAND_TIMEOUT)
        if result.returncode != 0:
            pytest.fail(
                f"`local-kafka stop` failed (exit {result.returncode}):\n{result.stderr.strip()}",
                pytrace=False,
            )
        self.running = False

    def restart(self) -> str:
        self.stop()
        return self.start()

    def status(self) -> tuple[int, str]:
        """(exit code, output) of `local-kafka status`: 0 running, 3 stopped."""
        result = self._run("status", 30.0)
        return result.returncode, result.stdout.strip()
