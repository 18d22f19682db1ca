"""Prometheus's config: promtool accepts it; it scrapes every process of the deployments once."""

from __future__ import annotations

import re

from tests.deploy.deploy_files import PROM, cluster_services, compose, k8s_docs, load_yaml
from tests.deploy.promql import run_promtool


def test_promtool_check_config() -> None:
    for name in ("prometheus.yml", "prometheus-single.yml"):
        result = run_promtool("check", "config", str(PROM / name))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 rule files found" in result.stdout


def test_the_single_profile_scrapes_only_its_process() -> None:
    # found by a red team: under the single profile the cluster's static targets paged
    # RoomrankJobDown (critical) for 4 targets that did not exist
    config = load_yaml(PROM / "prometheus-single.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    single = compose()["services"]["roomrank-single"]
    port = single["command"][single["command"].index("--metrics-port") + 1]
    assert [t for sc in jobs["roomrank"]["static_configs"] for t in sc["targets"]] == [
        f"roomrank-single:{port}"]
    assert "roomrank-bytewax" not in jobs  # `roomrank run` serves no Bytewax API there
    assert not any("dns_sd_configs" in job for job in load_yaml(PROM / "prometheus.yml")[
        "scrape_configs"])


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
