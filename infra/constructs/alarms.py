"""Alarms for the cache, the database, the functions and the API, sent to one SNS topic.

Why a customer managed key on the topic: CloudWatch alarms cannot publish to a topic
encrypted with the AWS managed ``aws/sns`` key; a key of our own can grant CloudWatch use.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
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
    max_over_nodes,
)

GIB = 1024**3


class OperationsAlarms(Construct):
    """Exposes ``topic`` and ``alarms`` (name -> alarm)."""

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
        key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {name} alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self, "Topic", display_name=f"{name} alarms", master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        cache = resources.cache
        cache_checks = [
            ("EngineCPUUtilization", "Maximum", "cache-engine-cpu", config.cache_cpu_percent),
            (
                "DatabaseMemoryUsagePercentage",
                "Maximum",
                "cache-memory",
                config.cache_memory_percent,
            ),
        ]
        if cache.config.replicas_per_shard > 0:
            cache_checks.append(
                (
                    "ReplicationLag",
                    "Maximum",
                    "cache-replication-lag",
                    config.replication_lag_seconds,
                )
            )
        for metric_name, statistic, alarm_name, threshold in cache_checks:
            for index, expression in enumerate(
                max_over_nodes(cache, metric_name, statistic, metric_name), start=1
            ):
                suffix = f"-{index}" if len(cache.member_cluster_ids) > MAX_ALARM_METRICS else ""
                self._alarm(
                    f"{alarm_name}{suffix}", expression, threshold, f"{metric_name} > {threshold}"
                )

        instance = resources.database.instance
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
