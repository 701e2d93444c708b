"""OperationsDashboard construct: cache, database, function and app (EMF) metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import METRIC_DATA_CLASSES

from .conftest import Synthesized

pytestmark = pytest.mark.infra


def dashboard_body(synthesized: Synthesized) -> dict[str, Any]:
    """The dashboard JSON with every CloudFormation token replaced by ``TOKEN``."""
    resources = synthesized.template("Monitoring").find_resources("AWS::CloudWatch::Dashboard")
    (dashboard,) = resources.values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    body_json: dict[str, Any] = json.loads(
        "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    )
    return body_json


def metrics_of(body: dict[str, Any]) -> list[list[Any]]:
    return [
        metric
        for widget in body["widgets"]
        for metric in widget.get("properties", {}).get("metrics", [])
    ]


def test_dashboard_is_named_after_the_environment(synthesized: Synthesized) -> None:
    synthesized.template("Monitoring").has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": synthesized.config.prefix}
    )


def test_cache_widgets_cover_every_node(dev: Synthesized) -> None:
    metrics = metrics_of(dashboard_body(dev))
    for name in (
        "CacheHitRate",
        "Evictions",
        "EngineCPUUtilization",
        "DatabaseMemoryUsagePercentage",
        "CurrConnections",
        "ReplicationLag",
    ):
        nodes = {m[3] for m in metrics if m[:3] == ["AWS/ElastiCache", name, "CacheClusterId"]}
        assert nodes == {"valkey-caching-dev-001", "valkey-caching-dev-002"}, name


def test_database_and_function_widgets(dev: Synthesized) -> None:
    flat = json.dumps(metrics_of(dashboard_body(dev)))
    for namespace, name in (
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/RDS", "ReadLatency"),
        ("AWS/RDS", "WriteLatency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5xx"),
    ):
        assert f'"{namespace}", "{name}"' in flat, name


def test_app_emf_hits_and_misses_per_data_class(dev: Synthesized) -> None:
    metrics = metrics_of(dashboard_body(dev))
    emitted = {
        (m[1], m[m.index("data_class") + 1])
        for m in metrics
        if m and m[0] == "ValkeyCaching" and "data_class" in m
    }
    assert emitted == {
        (name, data_class)
        for name in ("CacheHit", "CacheMiss")
        for data_class in METRIC_DATA_CLASSES
    }
    service_dimension = [m for m in metrics if m and m[0] == "ValkeyCaching" and "service" in m]
    assert service_dimension
    assert all(m[m.index("service") + 1] == "valkey-caching" for m in service_dimension)
    expressions = [
        m[0]["expression"] for m in metrics if m and isinstance(m[0], dict) and "expression" in m[0]
    ]
    assert "100 * hit_product / (hit_product + miss_product)" in expressions
