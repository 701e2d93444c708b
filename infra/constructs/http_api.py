"""HTTP API (API Gateway v2) in front of the API function: throttled, with access logs,
one explicit route per operation of the app's OpenAPI document.

Why HTTP API rather than REST API: a Lambda proxy with no API Gateway features beyond
throttling, logging and IAM authorization, at a lower price and latency.

Routes come from the app itself (its OpenAPI document), and who may call each comes from
``lambda_app.api.access``, the rule the handler enforces again: operator routes and
user records by id get ``AWS_IAM`` (SigV4); public and session routes ``NONE`` (the
handler validates the bearer session). There is no ``$default`` catch-all, so a request
for anything else is API Gateway's 404 and never reaches the function.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
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
        "caller": "$context.identity.userArn",
        "authorizerError": "$context.authorizer.error",
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
        log_removal: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(config.access_log_retention_days),
            removal_policy=log_removal,
        )
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=name,
            description="Caching patterns over ElastiCache for Valkey and RDS MySQL",
            create_default_stage=False,
        )
        self.routes = add_routes(self.api, handler)
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
        for route in self.routes.public:
            acknowledge(
                route,
                "AwsSolutions-APIG4",
                "Public by design (lambda_app.api.access): reads of demo catalog data, "
                "health, the OpenAPI document, and log-in/log-out, whose request carries "
                "its own credential. Bounded by stage throttling and per-caller limits.",
            )


class Routes:
    """The routes made, by who may call them (``lambda_app.api.access``)."""

    def __init__(self) -> None:
        self.public: list[apigwv2.HttpRoute] = []
        self.operator: list[apigwv2.HttpRoute] = []


def operations() -> list[tuple[str, str]]:
    """``(METHOD, /path/{param})`` for every operation of the app's OpenAPI document and
    the document itself, plus ``HEAD`` wherever ``GET`` is (answered as GET)."""
    from lambda_app.api.app import openapi_json

    found: list[tuple[str, str]] = [("GET", "/openapi.json"), ("HEAD", "/openapi.json")]
    for path, methods in json.loads(openapi_json())["paths"].items():
        for method in methods:
            found.append((method.upper(), path))
            if method == "get":
                found.append(("HEAD", path))
    return sorted(found)


def add_routes(api: apigwv2.HttpApi, handler: lambda_.IFunction) -> Routes:
    from lambda_app.api.access import caller_kind, needs_signature

    # One invoke permission for the whole API, not one per route: 28 route statements
    # took ~12 KB of the function policy's 20 KB limit.
    integration = integrations.HttpLambdaIntegration(
        "ApiFunction", handler, scope_permission_to_route=False
    )
    iam = authorizers.HttpIamAuthorizer()
    routes = Routes()
    for method, path in operations():
        operator = needs_signature(caller_kind(method, path))
        made = apigwv2.HttpRoute(
            api,
            f"{method}{path}".replace("/", "_").replace("{", "").replace("}", ""),
            http_api=api,
            route_key=apigwv2.HttpRouteKey.with_(path, apigwv2.HttpMethod(method)),
            integration=integration,
            authorizer=iam if operator else None,
        )
        (routes.operator if operator else routes.public).append(made)
    return routes


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
