"""The alert rules: promtool accepts and unit-tests them, each has a runbook entry."""

from __future__ import annotations

import re

from features.contract.events import DEAD_LETTER_REASONS
from tests.deploy.deploy_files import PROM, RUNBOOK, alert_rules, load_yaml
from tests.deploy.promql import check_promql, run_promtool


def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(PROM / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = run_promtool("test", "rules", str(PROM / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


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


def test_the_dead_letter_entry_explains_every_reason_the_job_gives_and_no_other() -> None:
    # found by a red team: the entry, its alert and the alert's test named a reason `late`
    # that no dead letter carries, and said nothing of `reused_id`, `ahead` or `closed`
    text = RUNBOOK.read_text()
    entry = text[text.index("### RoomrankDeadLetterRateHigh"):]
    entry = entry[:entry.index("\n### ", 1)]
    named = set(re.findall(r"^\s+- `(\w+)`", entry, re.M))
    named |= {w for line in re.findall(r"^\s+- (`\w+`(?:, `\w+`)+):", entry, re.M)
              for w in re.findall(r"`(\w+)`", line)}
    assert named == set(DEAD_LETTER_REASONS), named
