"""Checks of everything under deploy/ (and docs/runbook.md) that can be checked without a
container engine, a cluster or a network.

The promtool checks need Debian's ``prometheus`` package (``apt-get install -y prometheus``);
without promtool they FAIL, on purpose: the alert rules are only worth something tested.
The shell snippets that start Bytewax processes are run for real, with ``python`` stubbed
where it would start the dataflow.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
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

# ------------------------------------------------------------------ the job's metric surface

EVENT_TYPES = {
    "enter",
    "leave",
    "heartbeat",
    "like",
    "comment",
    "share",
    "follow",
    "gift",
    "item_click",
    "add_to_cart",
    "purchase",
    "push_open",
    "showcase",
    "room_close",
}
LABEL_VALUES = {
    "type": EVENT_TYPES,
    "reason": {"not_json", "invalid", "unknown_type", "too_large", "late"},
    "arm": {"attention", "control"},
    "trigger": {"showcase", "enter"},
    "action": {"click", "purchase"},
    "job": {"roomrank", "roomrank-bytewax"},
}
# name -> (type, labels)
METRICS: dict[str, tuple[str, set[str]]] = {
    "roomrank_events_total": ("counter", {"type"}),
    "roomrank_dead_letters_total": ("counter", {"reason"}),
    "roomrank_duplicates_total": ("counter", set()),
    "roomrank_pushes_total": ("counter", {"arm", "trigger"}),
    "roomrank_showcase_changes_total": ("counter", set()),
    "roomrank_present_viewers": ("gauge", set()),
    "roomrank_rooms_active": ("gauge", set()),
    "roomrank_push_latency_seconds": ("histogram", set()),
    "roomrank_event_lag_seconds": ("histogram", set()),
    "roomrank_kafka_consumer_lag": ("gauge", {"topic", "partition"}),
    "roomrank_propensity_rolling_auc": ("gauge", set()),
    "roomrank_push_hit_rate": ("gauge", {"arm"}),
    "roomrank_push_conversions_total": ("counter", {"arm", "action"}),
    "roomrank_learner_refused_total": ("counter", set()),
    "roomrank_pushes_skipped_total": ("counter", {"arm", "reason"}),
    "roomrank_ghost_pushes_total": ("counter", {"arm"}),
    "roomrank_assignments_total": ("counter", {"arm"}),
    "roomrank_allocation_probability": ("gauge", {"arm"}),
    "roomrank_allocation_share": ("gauge", {"arm"}),
    "roomrank_arm_conversion_posterior_mean": ("gauge", {"arm"}),
}
# Series Prometheus makes itself.
SYNTHETIC_METRICS = {"up", "ALERTS"}
# Bytewax's own series (port 3030): bytewax_item_out_count_total, bytewax_*_duration_seconds...
BYTEWAX_METRIC = re.compile(r"bytewax_[a-z0-9_]+")
# Labels every scraped series has, or Bytewax's / ALERTS' own.
COMMON_LABELS = {"job", "instance", "le", "step_id", "worker_index", "alertname", "alertstate"}

# Variables the deployments may set besides ROOMRANK_* settings.
EXTRA_JOB_ENV = {
    "BYTEWAX_DATAFLOW_API_ENABLED",  # Bytewax's API + /metrics on 3030
    "BYTEWAX_DATAFLOW_API_CACHE_PATH",  # where that API writes dataflow.json
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "CLUSTER_SIZE",
    "CLUSTER_SERVICE",
    "CLUSTER_PORT",  # statefulset.yaml's wrapper
    "RECOVERY_PARTITIONS",  # statefulset.yaml's recovery-init
}


def _settings_env() -> set[str]:
    """Every ROOMRANK_ variable the job reads: flows.settings is the one table of them."""
    from flows.settings import SETTINGS

    return {s.env for s in SETTINGS}


# ------------------------------------------------------------------ helpers


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


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: install Debian's prometheus package "
            "(apt-get install -y prometheus) so the alert rules and the Prometheus config "
            "can be checked; these tests fail rather than skip without it",
            pytrace=False,
        )
    return path


def run_promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
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


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NUMBER = re.compile(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression selects (a deliberately small PromQL lexer)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for m in _IDENT.finditer(text):
        rest = text[m.end() :].lstrip()
        if rest.startswith("(") or m.group() in _KEYWORDS:
            continue
        names.add(m.group())
    return names


def promql_labels(expr: str) -> set[str]:
    labels = set()
    for m in _GROUPING.finditer(expr):
        labels |= {x.strip() for x in m.group(2).split(",") if x.strip()}
    for block in _MATCHERS.findall(expr):
        labels |= {m.group(1) for m in _MATCHER.finditer(block)}
    return labels


def known_metric(name: str) -> bool:
    if name in METRICS or name in SYNTHETIC_METRICS or BYTEWAX_METRIC.fullmatch(name):
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and METRICS.get(base, ("",))[0] == "histogram":
            return True
    return False


def check_promql(where: str, expr: str) -> list[str]:
    problems = []
    names = promql_metrics(expr)
    if not names:
        problems.append(f"{where}: selects no metric: {expr}")
    for name in sorted(names):
        if not known_metric(name):
            problems.append(f"{where}: unknown metric {name!r}")
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if METRICS.get(base, ("",))[0] == "histogram" and name == base:
            problems.append(f"{where}: histogram {name} used without _bucket/_sum/_count")
    allowed_labels = COMMON_LABELS.union(*(labels for _, labels in METRICS.values()))
    for label in sorted(promql_labels(expr) - allowed_labels):
        problems.append(f"{where}: unknown label {label!r}")
    for block in _MATCHERS.findall(_STRING.sub(lambda m: m.group().replace("}", ""), expr)):
        for m in _MATCHER.finditer(block):
            label, op, value = m.groups()
            fixed = op == "=" and label in LABEL_VALUES and not value.startswith("$")
            if fixed and value not in LABEL_VALUES[label]:
                problems.append(f"{where}: {label}={value!r} is not a value it takes")
    return problems


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


# ------------------------------------------------------------------ every file parses


def test_every_yaml_and_json_file_parses() -> None:
    files = deploy_files(".yml", ".yaml", ".json")
    assert len(files) >= 12, files
    for path in files:
        if path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict), path
        else:
            docs = load_all_yaml(path)
            assert docs and all(isinstance(d, dict) for d in docs), path


def test_no_tabs_or_trailing_whitespace_in_yaml() -> None:
    for path in deploy_files(".yml", ".yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert "\t" not in line, f"{path}:{number}: tab"
            assert line == line.rstrip(), f"{path}:{number}: trailing whitespace"


# ------------------------------------------------------------------ Prometheus


def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(PROM / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = run_promtool("test", "rules", str(PROM / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config() -> None:
    result = run_promtool("check", "config", str(PROM / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_required_alerts_exist_with_severity_summary_and_runbook() -> None:
    rules = {r["alert"]: r for r in alert_rules()}
    required = {
        "RoomrankJobDown": "up",
        "RoomrankKafkaLagGrowing": "deriv(",
        "RoomrankDeadLetterRateHigh": "roomrank_events_total",
        "RoomrankNoPushesWhileShowcasesChange": "roomrank_showcase_changes_total",
        "RoomrankPushLatencyHigh": "histogram_quantile(0.99",
    }
    for name, needle in required.items():
        assert name in rules, f"missing alert {name}"
        assert needle in rules[name]["expr"], (name, needle)
    assert "1.5" in rules["RoomrankPushLatencyHigh"]["expr"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        runbook = annotations["runbook"]
        assert runbook.strip() and "\n" not in runbook.strip(), f"{name}: one-line runbook"
        assert f"docs/runbook.md#{name.lower()}" in runbook, f"{name}: link its runbook entry"


def test_alerts_reference_only_known_metrics_and_labels() -> None:
    problems = []
    for rule in alert_rules():
        problems += check_promql(rule["alert"], rule["expr"])
    assert not problems, "\n".join(problems)


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = load_yaml(PROM / "alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - quiet == set(), "alerts never shown to stay quiet"


def test_runbook_explains_every_alert() -> None:
    text = RUNBOOK.read_text()
    headings = {
        m.group(1).strip() for m in re.finditer(r"^#{2,4}\s+(.+)$", text, flags=re.MULTILINE)
    }
    for name in sorted(r["alert"] for r in alert_rules()):
        assert name in headings, f"docs/runbook.md needs a heading '### {name}'"
    for topic in ("scale", "recovery partition", "at-least-once", "rec_id", "dashboard"):
        assert topic.lower() in text.lower(), f"runbook should cover {topic!r}"
    # Scaling out in Kubernetes moves these two together.
    assert "CLUSTER_SIZE" in text and "replicas" in text


def test_scrape_config_matches_the_deployments() -> None:
    config = load_yaml(PROM / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"roomrank", "roomrank-bytewax"} <= set(jobs)
    services = cluster_services()
    targets = {
        name: {t for sc in job.get("static_configs", []) for t in sc["targets"]}
        for name, job in jobs.items()
    }
    assert targets["roomrank"] == {f"{s}:9100" for s in services}
    assert targets["roomrank-bytewax"] == {f"{s}:3030" for s in services}
    # roomrank_* must be counted once: the Bytewax port re-exports the Python registry.
    drops = [
        r["regex"]
        for r in jobs["roomrank-bytewax"]["metric_relabel_configs"]
        if r["action"] == "drop"
    ]
    assert any(re.fullmatch(rx, "roomrank_events_total") for rx in drops)
    # And the same two job names in Kubernetes, which the alerts rely on.
    podmonitor = k8s_docs()["PodMonitor/roomrank"]
    job_by_port = {
        ep["port"]: next(r["replacement"] for r in ep["relabelings"] if r["targetLabel"] == "job")
        for ep in podmonitor["spec"]["podMetricsEndpoints"]
    }
    assert job_by_port == {"metrics": "roomrank", "bytewax-api": "roomrank-bytewax"}
    k8s_drops = [
        r["regex"]
        for ep in podmonitor["spec"]["podMetricsEndpoints"]
        if ep["port"] == "bytewax-api"
        for r in ep["metricRelabelings"]
    ]
    assert k8s_drops == drops


def test_metric_table_matches_the_job() -> None:
    """METRICS above is what flows/metrics.py exports: names, types and label names."""
    from prometheus_client.metrics import MetricWrapperBase

    from flows import metrics

    exported = {}
    for obj in vars(metrics).values():
        if isinstance(obj, MetricWrapperBase):
            name = obj._name + ("_total" if obj._type == "counter" else "")
            exported[name] = (obj._type, set(obj._labelnames))
    assert exported == METRICS


# ------------------------------------------------------------------ Grafana


def test_dashboard_references_only_known_metrics_and_labels() -> None:
    problems = []
    for title, expr in dashboard_exprs():
        problems += check_promql(title, expr)
    assert not problems, "\n".join(problems)


def test_dashboard_covers_the_operating_signals() -> None:
    used = set().union(*(promql_metrics(e) for _, e in dashboard_exprs()))
    used = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    for name in METRICS:
        if name in ("roomrank_duplicates_total",):
            continue
        assert name in used, f"no panel shows {name}"
    assert "roomrank_duplicates_total" in used
    exprs = " ".join(e for _, e in dashboard_exprs())
    for q in ("0.5", "0.95", "0.99"):
        latency = "sum by (le) (rate(roomrank_push_latency_seconds_bucket"
        assert f"histogram_quantile({q}, {latency}" in exprs
    # Conversion per arm with its uncertainty: p ± 1.96·sqrt(p(1-p)/n).
    conv = [e for t, e in dashboard_exprs() if "roomrank_push_conversions_total" in e]
    assert any("1.96 * sqrt(" in e and e.count("roomrank_pushes_total") >= 2 for e in conv)


def test_dashboard_promql_parses(tmp_path: Path) -> None:
    substitutions = {"$__rate_interval": "1m", "$conv_window": "1h", "$action": "click"}
    rules = []
    for i, (_, expr) in enumerate(dashboard_exprs()):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"unknown dashboard variable in {expr}"
        rules.append({"record": f"dashboard:expr_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_structure_and_provisioning() -> None:
    dash = dashboard()
    assert dash["uid"] == "roomrank"
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {o["value"] for o in variables["action"]["options"]} <= LABEL_VALUES["action"]
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]

    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == variables["datasource"]["current"]["value"]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose()["services"]

    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "roomrank.yml")
    (provider,) = providers["providers"]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# ------------------------------------------------------------------ Docker


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_pins_base_image_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions()
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases, "no FROM"
    for image in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", image), (
            f"base image {image!r} must be python:3.11.<patch>-slim pinned by version tag"
        )
    final_stage = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    users = [rest for word, rest in final_stage if word == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert ("ENTRYPOINT", '["roomrank"]') in final_stage
    assert ("CMD", '["run"]') in final_stage
    exposed = {p for word, rest in final_stage if word == "EXPOSE" for p in rest.split()}
    assert {"9100", "3030"} <= exposed
    volumes = [rest for word, rest in final_stage if word == "VOLUME"]
    assert any(RECOVERY_DIR in v for v in volumes)


def test_dockerfile_copies_exist_and_pass_the_dockerignore() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in ignore if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "allow-list .dockerignore expected"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = []
    for word, rest in dockerfile_instructions():
        if word == "COPY" and "--from=" not in rest:
            sources += rest.split()[:-1]
    assert sources
    for source in sources:
        if source.endswith("*"):  # optional file (README.md*)
            continue
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert source.rstrip("/") in allowed, f"COPY {source}: excluded by the .dockerignore"
    # The installed packages are what pyproject packages.
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in include["packages"]["find"]["include"]}
    assert packages <= {s.rstrip("/") for s in sources}


# ------------------------------------------------------------------ entry points


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


# ------------------------------------------------------------------ environment variables


def test_env_vars_in_deploy_files_are_settings() -> None:
    settings = _settings_env()
    # Any ROOMRANK_ name in the deploy files or the runbook must be a real setting.
    mentioned: dict[str, set[str]] = {}
    for path in [*deploy_files(), RUNBOOK]:
        for name in re.findall(r"\bROOMRANK_[A-Z0-9_]+", path.read_text()):
            mentioned.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    unknown = {n: sorted(where) for n, where in mentioned.items() if n not in settings}
    assert not unknown, f"not settings of the job: {unknown}"

    # The job's containers get settings and a few known extras, nothing else.
    job_env: dict[str, set[str]] = {}
    for name, svc in compose()["services"].items():
        if svc.get("image") == JOB_IMAGE:
            env = svc.get("environment") or {}
            keys = env.keys() if isinstance(env, dict) else {e.split("=")[0] for e in env}
            job_env[f"compose:{name}"] = set(keys)
    configmap = k8s_docs()["ConfigMap/roomrank-config"]
    job_env["k8s:ConfigMap"] = set(configmap["data"])
    spec = statefulset()["spec"]["template"]["spec"]
    for c in spec["containers"] + spec.get("initContainers", []):
        job_env[f"k8s:{c['name']}"] = set(container_env(c))
    instructions = dockerfile_instructions()
    runtime = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    job_env["Dockerfile"] = {
        m.group(1) for word, rest in runtime if word == "ENV" for m in re.finditer(r"(\w+)=", rest)
    }
    for where, names in job_env.items():
        assert names - settings - EXTRA_JOB_ENV == set(), where
    # Where the job reads its settings, every setting they give is the one the brief lists.
    assert {"ROOMRANK_BROKERS", "ROOMRANK_METRICS_PORT"} <= job_env["k8s:ConfigMap"]
    assert configmap["data"]["ROOMRANK_METRICS_PORT"] == "9100"


# ------------------------------------------------------------------ compose


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
                bare = re.findall(r"(?<!\$)\$(?!\$)[{A-Za-z_]", part.replace("$$", ""))
                assert not bare, f"{name}: unescaped $ in {part!r}"


def test_compose_prometheus_and_topics() -> None:
    services = compose()["services"]
    prom = services["prometheus"]
    assert "../prometheus:/etc/prometheus:ro" in prom["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
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


# ------------------------------------------------------------------ Kubernetes


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present
    for doc in k8s_docs().values():
        assert "namespace" not in doc["metadata"], "manifests must stay namespace-less"


def test_prometheusrule_wraps_the_same_alerts() -> None:
    rule = k8s_docs()["PrometheusRule/roomrank"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == load_yaml(PROM / "alerts.yml")["groups"]
    result = subprocess.run(
        [sys.executable, str(K8S / "render_prometheusrule.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_statefulset_wiring() -> None:
    docs = k8s_docs()
    sts = statefulset()
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert spec["podManagementPolicy"] == "Parallel"
    assert pod["terminationGracePeriodSeconds"] >= 30
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0

    main = container(pod, "roomrank")
    env = container_env(main)
    assert int(env["CLUSTER_SIZE"]) == spec["replicas"], "CLUSTER_SIZE must equal replicas"
    headless = docs[f"Service/{spec['serviceName']}"]
    assert env["CLUSTER_SERVICE"] == spec["serviceName"]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"].items() <= labels.items()
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert str(ports["cluster"]) == env["CLUSTER_PORT"]
    assert headless["spec"]["ports"][0]["port"] == ports["cluster"]
    configmap = docs["ConfigMap/roomrank-config"]
    assert main["envFrom"] == [{"configMapRef": {"name": "roomrank-config"}}]
    assert ports["metrics"] == int(configmap["data"]["ROOMRANK_METRICS_PORT"])
    assert ports["bytewax-api"] == 3030
    assert "BYTEWAX_DATAFLOW_API_ENABLED" in env
    probe = main["readinessProbe"]["httpGet"]
    assert probe["port"] in ("metrics", ports["metrics"]) and probe["path"] == "/metrics"

    script = "\n".join(main["command"] + main["args"])
    assert f"python -m bytewax.run {DATAFLOW}" in script
    assert '-i "$ordinal"' in script and "${HOSTNAME##*-}" in script
    assert f"-r {RECOVERY_DIR}" in script

    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    for c in (main, container(pod, "recovery-init", init=True)):
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts[RECOVERY_DIR] in claims, c["name"]

    init = container(pod, "recovery-init", init=True)
    init_script = "\n".join(init["command"] + init["args"])
    assert "python -m bytewax.recovery" in init_script
    assert int(container_env(init)["RECOVERY_PARTITIONS"]) >= spec["replicas"]

    metrics_service = docs["Service/roomrank-metrics"]
    assert metrics_service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in metrics_service["spec"]["ports"]} <= set(ports)
    podmonitor = docs["PodMonitor/roomrank"]
    assert podmonitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert podmonitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert {ep["port"] for ep in podmonitor["spec"]["podMetricsEndpoints"]} <= set(ports)


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
