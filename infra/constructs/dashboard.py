"""CloudWatch dashboard: cache, database, functions, API and the app's own hit/miss metrics.

Why per-node cache graphs: ElastiCache publishes engine metrics per node, and a primary
and its replica behave differently (CPU, replication lag), so they are not averaged away.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from infra.constructs.monitored import (
    PERIOD,
    MonitoredResources,
    app_cache_metric,
    app_hit_rates,
    node_metrics,
)
from lambda_app import metric_names as names
from lambda_app.metric_names import GRAPHED_DATA_CLASSES

WIDTH = 8
HEIGHT = 6


def _graph(
    title: str,
    left: Sequence[cw.IMetric],
    *,
    unit: str = "",
    stacked: bool = False,
    width: int = WIDTH,
) -> cw.GraphWidget:
    return cw.GraphWidget(
        title=title,
        left=left,
        width=width,
        height=HEIGHT,
        stacked=stacked,
        left_y_axis=cw.YAxisProps(label=unit, show_units=False, min=0) if unit else None,
    )


class OperationsDashboard(Construct):
    """Exposes ``dashboard``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, resources: MonitoredResources, name: str
    ) -> None:
        super().__init__(scope, construct_id)
        cache, database = resources.cache, resources.database
        instance = database.instance
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=name, default_interval=Duration.hours(3)
        )
        self.dashboard.add_widgets(
            cw.TextWidget(
                markdown=f"# {name}\nValkey `{cache.replication_group_id}` "
                f"(maxmemory-policy `{cache.config.maxmemory_policy}`), "
                f"MySQL `{database.instance_identifier}`",
                width=24,
                height=2,
            )
        )
        self.dashboard.add_widgets(
            _graph("Cache hit rate", node_metrics(cache, "CacheHitRate", "Average"), unit="%"),
            _graph("Evictions", node_metrics(cache, "Evictions", "Sum")),
            _graph("Engine CPU", node_metrics(cache, "EngineCPUUtilization", "Maximum"), unit="%"),
        )
        self.dashboard.add_widgets(
            _graph(
                "Cache memory used",
                node_metrics(cache, "DatabaseMemoryUsagePercentage", "Maximum"),
                unit="%",
            ),
            _graph("Cache connections", node_metrics(cache, "CurrConnections", "Maximum")),
            _graph(
                "Replication lag",
                node_metrics(cache, "ReplicationLag", "Maximum"),
                unit="seconds",
            ),
        )
        self.dashboard.add_widgets(
            _graph("MySQL CPU", [instance.metric_cpu_utilization(period=PERIOD)], unit="%"),
            _graph("MySQL connections", [instance.metric_database_connections(period=PERIOD)]),
            _graph(
                "MySQL latency",
                [
                    instance.metric("ReadLatency", statistic="Average", period=PERIOD),
                    instance.metric("WriteLatency", statistic="Average", period=PERIOD),
                ],
                unit="seconds",
            ),
        )
        if database.proxy is not None:
            self.dashboard.add_widgets(*_proxy_graphs(database.proxy.db_proxy_name))
        functions = resources.functions
        self.dashboard.add_widgets(
            _graph(
                "Function errors",
                [fn.metric_errors(period=PERIOD, label=name) for name, fn in functions.items()],
            ),
            _graph(
                "Function duration (p99)",
                [
                    fn.metric_duration(period=PERIOD, statistic="p99", label=name)
                    for name, fn in functions.items()
                ],
                unit="ms",
            ),
            _graph(
                "Function throttles",
                [fn.metric_throttles(period=PERIOD, label=name) for name, fn in functions.items()],
            ),
        )
        api = resources.api
        self.dashboard.add_widgets(
            _graph(
                "API requests and errors",
                [
                    api.metric_count(period=PERIOD, label="requests"),
                    api.metric_client_error(period=PERIOD, label="4xx"),
                    api.metric_server_error(period=PERIOD, label="5xx"),
                ],
                width=12,
            ),
            _graph(
                "API latency (p99)",
                [
                    api.metric_latency(period=PERIOD, statistic="p99", label="latency"),
                    api.metric_integration_latency(
                        period=PERIOD, statistic="p99", label="integration"
                    ),
                ],
                unit="ms",
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "App cache hits and misses by data class",
                [
                    app_cache_metric(resources, metric_name, data_class)
                    for data_class in GRAPHED_DATA_CLASSES
                    for metric_name in (names.CACHE_HITS, names.CACHE_MISSES)
                ],
                stacked=True,
                width=12,
            ),
            _graph(
                "App hit rate by data class",
                app_hit_rates(resources),
                unit="%",
                width=12,
            ),
        )


#: RDS Proxy's own metrics (namespace AWS/RDS, dimension ProxyName): what the functions
#: ask of it, what it holds open to MySQL, the connections it cannot share (pinned), and
#: the time MySQL takes to answer through it (microseconds).
PROXY_CONNECTIONS = ("ClientConnections", "DatabaseConnections",
                     "DatabaseConnectionsCurrentlySessionPinned")
PROXY_LATENCY = "QueryDatabaseResponseLatency"


def _proxy_metric(proxy_name: str, metric_name: str, statistic: str, label: str) -> cw.Metric:
    return cw.Metric(namespace="AWS/RDS", metric_name=metric_name,
                     dimensions_map={"ProxyName": proxy_name}, statistic=statistic,
                     period=PERIOD, label=label)


def _proxy_graphs(proxy_name: str) -> list[cw.GraphWidget]:
    labels = {"ClientConnections": "from the functions", "DatabaseConnections": "to MySQL",
              "DatabaseConnectionsCurrentlySessionPinned": "pinned (not shared)"}
    return [
        _graph("RDS Proxy connections",
               [_proxy_metric(proxy_name, name, "Maximum", labels[name])
                for name in PROXY_CONNECTIONS], width=12),
        _graph("RDS Proxy query latency",
               [_proxy_metric(proxy_name, PROXY_LATENCY, "Average", "average"),
                _proxy_metric(proxy_name, PROXY_LATENCY, "p99", "p99")],
               unit="microseconds", width=12),
    ]
