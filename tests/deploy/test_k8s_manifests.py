"""The Kubernetes manifests: kustomization, PrometheusRule, and the StatefulSet's wiring."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.deploy_files import (
    DATAFLOW,
    K8S,
    PROM,
    RECOVERY_DIR,
    container,
    container_env,
    k8s_docs,
    load_yaml,
    statefulset,
)


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
