"""The compose file: pinned images, KRaft Kafka, a consistent cluster, idempotent recovery-init."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.deploy.deploy_files import DATAFLOW, RECOVERY_DIR, cluster_services, compose, flag
from tests.deploy.shell import base_env, shell_python


def test_compose_images_are_pinned() -> None:
    services = compose()["services"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", services["kafka"]["image"])
    for name, svc in services.items():
        image = svc["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: pin {image}"


def test_compose_kafka_runs_kraft() -> None:
    env = compose()["services"]["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert not any("ZOOKEEPER" in k for k in env)


def test_compose_cluster_is_consistent() -> None:
    services = cluster_services()
    assert len(services) == 2
    address_lists = set()
    ids = {}
    volumes = {}
    for name, svc in services.items():
        argv = svc["command"]
        assert argv[0] == DATAFLOW, name
        assert flag(argv, "-w") == "1"
        address_lists.add(flag(argv, "-a"))
        ids[name] = int(flag(argv, "-i"))
        assert flag(argv, "-r") == RECOVERY_DIR
        env = svc["environment"]
        assert flag(argv, "-s") == env["ROOMRANK_SNAPSHOT_SECS"]
        assert flag(argv, "-b") == env["ROOMRANK_BACKUP_SECS"]
        assert svc["hostname"] == name
        (volume,) = [v for v in svc["volumes"] if v.endswith(f":{RECOVERY_DIR}")]
        volumes[name] = volume.split(":")[0]
        assert svc["depends_on"]["recovery-init"]["condition"] == "service_completed_successfully"
    (addresses,) = address_lists
    hosts = [a.rsplit(":", 1)[0] for a in addresses.split(";")]
    assert sorted(hosts) == sorted(services), "-a must list every process by its hostname"
    for name, pid in ids.items():
        assert hosts[pid] == name, f"{name}: -i {pid} is not its place in -a"
    assert len(set(volumes.values())) == len(volumes), "each process needs its own volume"

    init = compose()["services"]["recovery-init"]
    # Partitions go on process 0's volume only.
    first = hosts[0]
    assert init["volumes"] == [f"{volumes[first]}:{RECOVERY_DIR}"]
    script = "\n".join(init["command"])
    assert "python -m bytewax.recovery" in script


def test_compose_shell_snippets_escape_dollars() -> None:
    """In compose files `$x` is interpolated from the host; shell variables need `$$x`."""
    for name, svc in compose()["services"].items():
        for part in svc.get("command") or []:
            if isinstance(part, str):
                host = part.replace("${PROMETHEUS_CONFIG:-prometheus.yml}", "")  # meant
                bare = re.findall(r"(?<!\$)\$(?!\$)[{A-Za-z_]", host.replace("$$", ""))
                assert not bare, f"{name}: unescaped $ in {part!r}"


def test_compose_prometheus_and_topics() -> None:
    services = compose()["services"]
    prom = services["prometheus"]
    assert "../prometheus:/etc/prometheus:ro" in prom["volumes"]
    # the cluster's config by default; the single profile's by PROMETHEUS_CONFIG
    assert ("--config.file=/etc/prometheus/${PROMETHEUS_CONFIG:-prometheus.yml}"
            in prom["command"])
    topics = "\n".join(services["kafka-topics"]["command"])
    env = next(iter(cluster_services().values()))["environment"]
    for key in ("ROOMRANK_INPUT_TOPIC", "ROOMRANK_OUTPUT_TOPIC", "ROOMRANK_DEAD_LETTER_TOPIC"):
        assert env[key] in topics
    assert f"--partitions {env['ROOMRANK_PARTITIONS']}" in topics


def _unescape_compose(script: str) -> str:
    return script.replace("$$", "$")


def test_compose_recovery_init_is_idempotent(tmp_path: Path) -> None:
    script = _unescape_compose("\n".join(compose()["services"]["recovery-init"]["command"]))
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    script = script.replace(RECOVERY_DIR, str(recovery))
    env = base_env(shell_python(tmp_path))
    first = subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert first.returncode == 0, first.stderr
    parts = sorted(p.name for p in recovery.iterdir())
    assert parts == [f"part-{i}.sqlite3" for i in range(4)]
    before = {p.name: p.stat().st_mtime_ns for p in recovery.iterdir()}
    again = subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in recovery.iterdir()} == before
