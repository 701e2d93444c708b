"""Monitoring: the operations dashboard and the alarms with their SNS topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from infra.config import AppConfig
from infra.constructs.alarms import OperationsAlarms
from infra.constructs.dashboard import OperationsDashboard
from infra.constructs.monitored import MonitoredResources
from infra.stacks.base import ConfiguredStack


class MonitoringStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        resources: MonitoredResources,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"{config.prefix}: dashboard and alarms",
            **kwargs,
        )
        self.dashboard = OperationsDashboard(
            self, "Dashboard", resources=resources, name=config.prefix
        )
        self.alarms = OperationsAlarms(
            self, "Alarms", resources=resources, config=config.monitoring, name=config.prefix
        )
        CfnOutput(self, "DashboardName", value=config.prefix)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
