"""The metric table the PromQL checks use is what ``flows/metrics.py`` exports."""

from __future__ import annotations

from tests.deploy.promql import METRICS


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
