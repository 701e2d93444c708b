"""Alarms for the cache, the database, the functions and the API, sent to one SNS topic.

Why a customer managed key on the topic: CloudWatch alarms cannot publish to a topic
encrypted with the AWS managed ``aws/sns`` key; a key of our own can grant CloudWatch use,
and the topic policy must allow CloudWatch to publish (see ``allow_alarms_to_publish``).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import MonitoringConfig
from infra.constructs.monitored import (
    MAX_ALARM_METRICS,
    PERIOD,
    MonitoredResources,
    app_cache_metric,
    max_over_nodes,
)
from lambda_app import metric_names as names

GIB = 1024**3
#: The data class whose hit ratio is alarmed: the catalogue every page reads.
HIT_RATIO_CLASS = "product"


def allow_alarms_to_publish(topic: sns.ITopic, key: kms.IKey, stack: Stack) -> None:
    """What ``enforce_ssl`` leaves out: a topic policy holding only a Deny, so CloudWatch
    could not publish, and a key CloudWatch could not use. Both grants are scoped to this
    account's alarms (``aws:SourceAccount``, ``aws:SourceArn``)."""
    cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
    conditions = {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
            f"{stack.account}:alarm:*"
        },
    }
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[cloudwatch],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToUseTheKey",
            principals=[cloudwatch],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=conditions,
        )
    )


class OperationsAlarms(Construct):
    """Exposes ``topic``, ``key`` and ``alarms`` (name -> alarm).

    Every alarm is one an operator acts on, and none fires on a healthy system: a cache
    that is full and evicting is how an ``allkeys-lfu`` cache is meant to run, so memory
    use is graphed, not alarmed; the eviction *rate* and the app's hit ratio say when
    the cache is too small.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: MonitoredResources,
        config: MonitoringConfig,
        name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._name = name
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {name} alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self, "Topic", display_name=f"{name} alarms", master_key=self.key, enforce_ssl=True
        )
        allow_alarms_to_publish(self.topic, self.key, stack)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}
        self._cache_alarms(resources, config)
        self._database_alarms(resources, config)
        self._api_alarms(resources, config)

    def _cache_alarms(self, resources: MonitoredResources, config: MonitoringConfig) -> None:
        cache = resources.cache
        checks = [
            ("EngineCPUUtilization", "Maximum", "cache-engine-cpu", config.cache_cpu_percent,
             f"Valkey engine CPU > {config.cache_cpu_percent}%"),
            ("Evictions", "Sum", "cache-evictions", config.cache_evictions,
             f"Valkey evicts > {config.cache_evictions} keys per 5 minutes on a node: the "
             "cache is too small for its working set"),
            ("CurrConnections", "Maximum", "cache-connections", config.cache_connections,
             f"Valkey connections > {config.cache_connections} on a node"),
        ]
        if cache.config.replicas_per_shard > 0:
            checks.append(("ReplicationLag", "Maximum", "cache-replication-lag",
                           config.replication_lag_seconds,
                           f"Valkey replication lag > {config.replication_lag_seconds} s"))
        for metric_name, statistic, alarm_name, threshold, description in checks:
            for index, expression in enumerate(
                max_over_nodes(cache, metric_name, statistic, metric_name), start=1
            ):
                suffix = f"-{index}" if len(cache.member_cluster_ids) > MAX_ALARM_METRICS else ""
                self._alarm(f"{alarm_name}{suffix}", expression, threshold, description)
        hits = app_cache_metric(resources, names.CACHE_HITS, HIT_RATIO_CLASS)
        misses = app_cache_metric(resources, names.CACHE_MISSES, HIT_RATIO_CLASS)
        floor = config.hit_ratio_min_reads
        self._alarm(
            "app-hit-ratio",
            cw.MathExpression(
                # EMF writes no datapoint for a zero count: a period where every read
                # missed has no "hits" at all, and without FILL the ratio would be missing
                # (read as healthy). Quiet periods count as healthy: a handful of reads
                # says nothing.
                expression=(
                    f"IF(FILL(hits, 0) + FILL(misses, 0) >= {floor}, "
                    "100 * FILL(hits, 0) / (FILL(hits, 0) + FILL(misses, 0)), 100)"
                ),
                using_metrics={"hits": hits, "misses": misses},
                label=f"{HIT_RATIO_CLASS} hit ratio",
                period=PERIOD,
            ),
            config.hit_ratio_percent,
            f"{HIT_RATIO_CLASS} reads answered from the cache < {config.hit_ratio_percent}% "
            f"(with at least {floor} reads in 5 minutes)",
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        )

    def _database_alarms(self, resources: MonitoredResources, config: MonitoringConfig) -> None:
        database = resources.database
        instance = database.instance
        self._alarm(
            "db-cpu",
            instance.metric_cpu_utilization(period=PERIOD),
            config.db_cpu_percent,
            f"MySQL CPU > {config.db_cpu_percent}%",
        )
        self._alarm(
            "db-free-storage",
            instance.metric_free_storage_space(period=PERIOD, statistic="Minimum"),
            config.db_free_storage_gib * GIB,
            f"MySQL free storage < {config.db_free_storage_gib} GiB",
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
        if database.proxy is not None:
            self._alarm(
                "db-proxy-connection-errors",
                cw.Metric(
                    namespace="AWS/RDS",
                    metric_name="DatabaseConnectionsSetupFailed",
                    dimensions_map={"ProxyName": database.proxy.db_proxy_name},
                    statistic=cw.Stats.SUM,
                    period=PERIOD,
                ),
                1,
                "RDS Proxy could not open connections to MySQL",
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                periods=1,
            )

    def _api_alarms(self, resources: MonitoredResources, config: MonitoringConfig) -> None:
        for function_name, function in resources.functions.items():
            self._alarm(
                f"{function_name}-errors",
                function.metric_errors(period=PERIOD),
                config.function_errors,
                f"{function_name} function errors >= {config.function_errors} in 5 minutes",
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                periods=1,
            )
            self._alarm(
                f"{function_name}-throttles",
                function.metric_throttles(period=PERIOD),
                1,
                f"{function_name} function throttled",
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                periods=1,
            )
        self._alarm(
            "api-5xx",
            resources.api.metric_server_error(period=PERIOD),
            config.function_errors,
            f"HTTP API 5xx responses >= {config.function_errors} in 5 minutes",
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            periods=1,
        )
        self._alarm(
            "api-p99-latency",
            resources.api.metric_latency(period=PERIOD, statistic="p99"),
            config.api_p99_ms,
            f"HTTP API p99 latency > {config.api_p99_ms} ms",
        )

    def _alarm(
        self,
        alarm_id: str,
        metric: cw.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        periods: int = 3,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            alarm_id,
            alarm_name=f"{self._name}-{alarm_id}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=comparison,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[alarm_id] = alarm
        return alarm
