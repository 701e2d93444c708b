"""HTTP API (API Gateway v2) in front of the API function: throttled, with access logs.

Why HTTP API rather than REST API: a Lambda proxy with no API Gateway features beyond
throttling and logging, at a lower price and latency.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import ApiConfig
from infra.conversions import retention
from infra.nag import acknowledge

#: One JSON object per request; field names follow API Gateway's context variables.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "userAgent": "$context.identity.userAgent",
    },
    separators=(",", ":"),
)


class HttpApiEndpoint(Construct):
    """Exposes ``api``, ``stage``, ``access_log_group`` and ``url``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        config: ApiConfig,
        name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(config.access_log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=name,
            description="Caching patterns over ElastiCache for Valkey and RDS MySQL",
            create_default_stage=False,
            default_integration=integrations.HttpLambdaIntegration("ApiFunction", handler),
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.throttle_rate_limit, burst_limit=config.throttle_burst_limit
            ),
            access_log_settings=_AccessLogSettings(self.access_log_group),
        )
        self.url = self.stage.url
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "A public demo API over demo catalog data; abuse is bounded by stage throttling "
            "and the app's own per-client rate limiter.",
        )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs into ``log_group`` (IAccessLogSettings is an interface, not a struct)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)
