"""Where the deploy files are, and readers of them (YAML, compose, Kubernetes, Grafana, Docker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DOCKER = DEPLOY / "docker"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
K8S = DEPLOY / "k8s"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The parts of deploy/ that deploy and watch the job (deploy/kafka is the tests' local broker).
OWNED = [PROM, GRAFANA, DOCKER, COMPOSE.parent, K8S]

RECOVERY_DIR = "/var/lib/roomrank/recovery"
DATAFLOW = "flows.deployed:flow"
JOB_IMAGE = "roomrank:dev"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def deploy_files(*suffixes: str) -> list[Path]:
    """Files of the owned deploy folders; all of them, or those with one of ``suffixes``."""
    return sorted(
        p
        for folder in OWNED
        for p in folder.rglob("*")
        if p.is_file() and (not suffixes or p.suffix in suffixes) and "__pycache__" not in p.parts
    )


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROM / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / "roomrank.json").read_text())


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def k8s_docs() -> dict[str, dict[str, Any]]:
    """kind/name -> manifest, from every YAML under deploy/k8s except kustomization.yaml."""
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all_yaml(path):
            docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def statefulset() -> dict[str, Any]:
    return k8s_docs()["StatefulSet/roomrank"]


def container(pod_spec: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    matches = [c for c in pod_spec.get(key, []) if c["name"] == name]
    assert len(matches) == 1, f"{key} {name!r} not found"
    return matches[0]


def container_env(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


def cluster_services() -> dict[str, dict[str, Any]]:
    """The compose services that are Bytewax processes of the cluster."""
    services = compose()["services"]
    return {
        name: svc
        for name, svc in services.items()
        if svc.get("entrypoint") == ["python", "-m", "bytewax.run"]
    }


def flag(argv: list[str], name: str) -> str:
    assert argv.count(name) == 1, f"{name} must appear once in {argv}"
    return argv[argv.index(name) + 1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out
