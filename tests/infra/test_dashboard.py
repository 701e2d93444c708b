"""OperationsDashboard construct: cache, database, function and app (EMF) metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

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


def test_the_rds_proxy_has_its_own_graphs(synthesized: Synthesized) -> None:
    """Both environments connect through RDS Proxy: its connections (pinned ones among
    them) and its query latency are graphed by the proxy's name."""
    from infra.constructs.dashboard import PROXY_CONNECTIONS, PROXY_LATENCY

    assert synthesized.config.mysql.proxy
    by_name = {m[1]: m for m in metrics_of(dashboard_body(synthesized))
               if m[:1] == ["AWS/RDS"] and "ProxyName" in m}
    for name in (*PROXY_CONNECTIONS, PROXY_LATENCY):
        assert name in by_name, name
        assert by_name[name][2] == "ProxyName"
