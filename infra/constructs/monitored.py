"""What the dashboard and the alarms look at, and the metric builders they share.

Why a shared module: the dashboard and the alarms must graph and alarm on the very same
metric definitions (namespace, dimensions, statistic), so both build them here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_

from infra.constructs.mysql_database import MysqlDatabase
from infra.constructs.valkey_cache import ValkeyCache
from lambda_app import metric_names as names
from lambda_app.metric_names import GRAPHED_DATA_CLASSES

PERIOD = Duration.minutes(5)
ELASTICACHE = "AWS/ElastiCache"
#: CloudWatch allows at most 10 metrics in one metric-math alarm.
MAX_ALARM_METRICS = 10


@dataclass(frozen=True)
class MonitoredResources:
    cache: ValkeyCache
    database: MysqlDatabase
    functions: Mapping[str, lambda_.IFunction]
    api: apigwv2.HttpApi
    metrics_namespace: str
    service_name: str


def node_metrics(
    cache: ValkeyCache, metric_name: str, statistic: str, node_ids: Sequence[str] | None = None
) -> list[cw.Metric]:
    """One metric per cache node (ElastiCache publishes engine metrics per node)."""
    return [
        cw.Metric(
            namespace=ELASTICACHE,
            metric_name=metric_name,
            dimensions_map={"CacheClusterId": node},
            statistic=statistic,
            period=PERIOD,
            label=node,
        )
        for node in (node_ids if node_ids is not None else cache.member_cluster_ids)
    ]


def max_over_nodes(
    cache: ValkeyCache, metric_name: str, statistic: str, label: str
) -> Iterator[cw.MathExpression]:
    """The per-timestamp maximum across nodes, in groups that fit one alarm each."""
    nodes = cache.member_cluster_ids
    for start in range(0, len(nodes), MAX_ALARM_METRICS):
        group = nodes[start : start + MAX_ALARM_METRICS]
        metrics = node_metrics(cache, metric_name, statistic, group)
        using = {f"m{index}": metric for index, metric in enumerate(metrics)}
        yield cw.MathExpression(
            expression=f"MAX([{','.join(using)}])",
            using_metrics=using,
            label=label,
            period=PERIOD,
        )


def app_cache_metric(resources: MonitoredResources, metric_name: str, data_class: str) -> cw.Metric:
    """The app's EMF metric; Powertools adds the ``service`` dimension to every metric."""
    return cw.Metric(
        namespace=resources.metrics_namespace,
        metric_name=metric_name,
        dimensions_map={names.SERVICE: resources.service_name, names.DATA_CLASS: data_class},
        statistic=cw.Stats.SUM,
        period=PERIOD,
        label=f"{data_class} {metric_name}",
    )


def app_hit_rates(resources: MonitoredResources) -> list[cw.MathExpression]:
    """Hit rate (%) per data class: hits / (hits + misses)."""
    rates = []
    for data_class in GRAPHED_DATA_CLASSES:
        rates.append(
            cw.MathExpression(
                # Ids are unique per class: one graph holds every class's expression.
                # FILL: a period with no hit (or no miss) datapoint is a count of zero.
                expression=(
                    f"100 * FILL(hit_{data_class}, 0) / "
                    f"(FILL(hit_{data_class}, 0) + FILL(miss_{data_class}, 0))"
                ),
                using_metrics={
                    f"hit_{data_class}": app_cache_metric(resources, names.CACHE_HITS, data_class),
                    f"miss_{data_class}": app_cache_metric(
                        resources, names.CACHE_MISSES, data_class
                    ),
                },
                label=data_class,
                period=PERIOD,
            )
        )
    return rates
