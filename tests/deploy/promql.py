"""The job's metric surface, a small PromQL lexer that checks expressions against it, promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from features.contract.events import DEAD_LETTER_REASONS
from tests.deploy.deploy_files import ROOT

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
    "reason": set(DEAD_LETTER_REASONS),
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
    "roomrank_input_off_key_total": ("counter", set()),
    "roomrank_pushes_total": ("counter", {"arm", "trigger"}),
    "roomrank_showcase_changes_total": ("counter", set()),
    "roomrank_present_viewers": ("gauge", set()),
    "roomrank_rooms_active": ("gauge", set()),
    "roomrank_push_latency_seconds": ("histogram", set()),
    "roomrank_push_hold_seconds": ("histogram", set()),
    "roomrank_event_lag_seconds": ("histogram", set()),
    "roomrank_kafka_consumer_lag": ("gauge", {"topic", "partition"}),
    "roomrank_propensity_rolling_auc": ("gauge", set()),
    "roomrank_push_hit_rate": ("gauge", {"arm"}),
    "roomrank_push_conversions_total": ("counter", {"arm", "action"}),
    "roomrank_learner_refused_total": ("counter", set()),
    "roomrank_late_triggers_total": ("counter", {"trigger"}),
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
