"""Write deploy/k8s/prometheusrule.yaml from deploy/prometheus/alerts.yml.

The alert rules live in ONE place, deploy/prometheus/alerts.yml (tested with promtool). The
Prometheus Operator wants them wrapped in a PrometheusRule; this script does the wrapping and
tests/deploy/test_k8s_manifests.py fails when the committed file has drifted:

    python deploy/k8s/render_prometheusrule.py          # rewrite the file
    python deploy/k8s/render_prometheusrule.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ALERTS = HERE.parent / "prometheus" / "alerts.yml"
TARGET = HERE / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by deploy/k8s/render_prometheusrule.py.
# Do not edit: change alerts.yml, then re-run the script.
# Your Prometheus' ruleSelector must match this object's labels (e.g. add `release: <name>`
# for kube-prometheus-stack).
"""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "roomrank",
            "labels": {
                "app.kubernetes.io/name": "roomrank",
                "app.kubernetes.io/component": "dataflow",
            },
        },
        "spec": {"groups": groups},
    }
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
    return HEADER + body


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python {Path(__file__).as_posix()}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
