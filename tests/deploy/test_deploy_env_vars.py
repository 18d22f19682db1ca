"""Every environment variable the deployments set or name is a job setting or a known extra."""

from __future__ import annotations

import re

from tests.deploy.deploy_files import (
    JOB_IMAGE,
    ROOT,
    RUNBOOK,
    compose,
    container_env,
    deploy_files,
    dockerfile_instructions,
    k8s_docs,
    statefulset,
)

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
