"""Every app metric the dashboard graphs or an alarm watches is one the runtime emits.

Both sides are exercised, not compared with a list: the runtime's own metrics code runs
(the caching library's per-class EMF and the handler's per-request counts) and its EMF
documents are parsed; the Monitoring stack is synthesized and every metric in the app's
namespace is read back from the dashboard body and the alarms, with its dimensions.
A graph of a metric nobody emits stays empty with no error anywhere; this fails instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_app import metric_names

from .conftest import Synthesized
from .test_dashboard import dashboard_body, metrics_of

pytestmark = pytest.mark.infra

Series = tuple[str, frozenset[tuple[str, str]]]


def _series_of_emf(blob: dict[str, Any]) -> set[Series]:
    """(metric name, {dimension: value}) for every metric an EMF document declares."""
    found: set[Series] = set()
    for directive in blob["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dimensions = frozenset((name, str(blob[name])) for name in dimension_set)
            for metric in directive["Metrics"]:
                found.add((metric["Name"], dimensions))
    return found


def emitted(namespace: str, service: str, monkeypatch: pytest.MonkeyPatch) -> set[Series]:
    """Run the runtime's metrics code the way a busy API does, and collect its EMF."""
    monkeypatch.setenv(metric_names.NAMESPACE_ENV, namespace)
    monkeypatch.setenv(metric_names.SERVICE_ENV, service)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    from lambda_app.caching.metrics import CacheMetrics

    cache = CacheMetrics()
    for data_class in ("static", "product", "user", "price", "session", "config", "query",
                       "dashboard"):
        cache.hit(data_class)
        cache.incr(data_class, "misses")
        cache.load(data_class, 3.0, ok=True)
    series: set[Series] = set()
    for blob in cache.publish_emf(namespace=namespace, service=service, emit=None):
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace
        series |= _series_of_emf(blob)

    from aws_lambda_powertools import Metrics

    from lambda_app.api.app import record_metrics

    request_metrics = Metrics(namespace=namespace, service=service)
    monkeypatch.setattr("lambda_app.api.app.metrics", request_metrics)
    for status in (200, 404, 429, 500, 503):
        record_metrics(status, {})
    series |= _series_of_emf(request_metrics.serialize_metric_set())
    return series


def _dimensions(pairs: list[Any]) -> frozenset[tuple[str, str]]:
    return frozenset(zip(pairs[0::2], pairs[1::2], strict=True))


def graphed(synthesized: Synthesized, namespace: str) -> set[Series]:
    """The app-namespace metrics of the dashboard body and of every alarm."""
    found: set[Series] = set()
    for metric in metrics_of(dashboard_body(synthesized)):
        if metric and metric[0] == namespace:
            pairs = [part for part in metric[2:] if not isinstance(part, dict)]
            found.add((metric[1], _dimensions(pairs)))
    alarms = synthesized.template("Monitoring").find_resources("AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        props = alarm["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        if "MetricName" in props:
            stats.append(props)
        for stat in stats:
            if stat.get("Namespace") == namespace:
                dims = frozenset((d["Name"], d["Value"]) for d in stat.get("Dimensions", []))
                found.add((stat["MetricName"], dims))
    return found


def test_the_dashboard_and_alarms_read_only_what_the_runtime_emits(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = synthesized.config.functions
    read = graphed(synthesized, functions.metrics_namespace)
    assert read, "the dashboard graphs no app metric at all"
    written = emitted(functions.metrics_namespace, functions.service_name, monkeypatch)
    missing = sorted((name, sorted(dims)) for name, dims in read - written)
    assert missing == [], json.dumps(missing)


def test_the_functions_are_told_the_namespace_and_service_the_dashboard_reads(
    synthesized: Synthesized,
) -> None:
    environment = synthesized.function_environment("lambda_app.handlers.api.handler")
    functions = synthesized.config.functions
    assert environment[metric_names.NAMESPACE_ENV] == functions.metrics_namespace
    assert environment[metric_names.SERVICE_ENV] == functions.service_name
