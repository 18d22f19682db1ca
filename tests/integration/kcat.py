"""Reading a topic with kcat, a Kafka client other than the confluent-kafka the job uses."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import confluent_kafka
import pytest

from tests.integration.kafka_clients import Key, Value


@cache
def _bundled_librdkafka_dir() -> str:
    """A temp dir with `librdkafka.so.1` -> the librdkafka bundled in the confluent-kafka wheel."""
    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    candidates = sorted(libs.glob("librdkafka*.so*"))
    if not candidates:
        pytest.fail(f"no bundled librdkafka in {libs}", pytrace=False)
    folder = tempfile.mkdtemp(prefix="roomrank-librdkafka-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.symlink(candidates[0], os.path.join(folder, "librdkafka.so.1"))
    return folder


def kcat_env(bundled_librdkafka: bool | None = None) -> dict[str, str]:
    """Environment for running kcat.

    Debian's kcat links librdkafka 2.0.x, which works against Kafka 4.x as measured here. With
    `bundled_librdkafka` (default: env ROOMRANK_KCAT_LIBRDKAFKA=bundled) kcat runs on the newer
    librdkafka shipped in the confluent-kafka wheel instead.
    """
    if bundled_librdkafka is None:
        bundled_librdkafka = os.environ.get("ROOMRANK_KCAT_LIBRDKAFKA") == "bundled"
    env = dict(os.environ)
    if bundled_librdkafka:
        folder = _bundled_librdkafka_dir()
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (folder, env.get("LD_LIBRARY_PATH", "")) if p
        )
    return env


def _kcat_binary() -> str:
    found = shutil.which("kcat") or shutil.which("kafkacat")
    if found is None:
        pytest.fail("kcat not found: apt-get install -y kcat", pytrace=False)
    return found


def kcat_consume(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float = 30.0,
    *,
    bundled_librdkafka: bool | None = None,
) -> list[tuple[Key, Value]]:
    """Read `count` messages of `topic` from the beginning with kcat; (key, value) bytes.

    Binary-safe: kcat prints each message as `<key length>|<value length>|<key><value>`
    (length -1 for null). Fails the test if `count` messages do not arrive in `timeout`.
    """
    cmd = [
        _kcat_binary(),
        "-b", bootstrap,
        "-C", "-t", topic,
        "-o", "beginning",
        "-c", str(count),
        "-q",
        "-f", "%K|%S|%k%s",
    ]  # fmt: skip
    try:
        result = subprocess.run(
            cmd,
            env=kcat_env(bundled_librdkafka),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = _parse_kcat(exc.stdout or b"") if exc.stdout else []
        stderr = (exc.stderr or b"").decode(errors="replace")
        pytest.fail(
            f"kcat read {len(partial)} of {count} messages from {topic!r} in {timeout}s\n{stderr}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"kcat exited {result.returncode}: {result.stderr.decode(errors='replace')}",
            pytrace=False,
        )
    return _parse_kcat(result.stdout)


def _parse_kcat(out: bytes) -> list[tuple[Key, Value]]:
    messages: list[tuple[Key, Value]] = []
    pos = 0
    while pos < len(out):
        klen_end = out.index(b"|", pos)
        vlen_end = out.index(b"|", klen_end + 1)
        klen = int(out[pos:klen_end])
        vlen = int(out[klen_end + 1 : vlen_end])
        pos = vlen_end + 1
        key = None if klen < 0 else out[pos : pos + klen]
        pos += max(klen, 0)
        value = None if vlen < 0 else out[pos : pos + vlen]
        pos += max(vlen, 0)
        messages.append((key, value))
    return messages
