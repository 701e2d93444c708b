"""HttpApiEndpoint construct: default route to the function, throttling, JSON access logs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.http_api import ACCESS_LOG_FORMAT, HttpApiEndpoint

from .conftest import ConstructStack, inline_function, properties_of

pytestmark = pytest.mark.infra


@pytest.fixture
def template(construct_stack: Callable[..., ConstructStack]) -> Template:
    built = construct_stack()
    handler = inline_function(built.stack, "Handler", "index.handler")
    HttpApiEndpoint(built.stack, "HttpApi", handler=handler, config=built.config.api, name="t")
    return built.template()


def test_http_api_routes_everything_to_the_function(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP", "Name": "t"}
    )
    template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": "$default"})
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"},
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com"},
    )


def test_stage_is_throttled_and_logs_json_access_lines(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40},
            "AccessLogSettings": {
                "DestinationArn": {
                    "Fn::GetAtt": [Match.string_like_regexp("HttpApiAccessLogs"), "Arn"]
                },
                "Format": ACCESS_LOG_FORMAT,
            },
        },
    )
    # Not any log group: the network's flow logs keep 7 days in dev too.
    assert properties_of(template, "AWS::Logs::LogGroup", "HttpApiAccessLogs") == {
        "RetentionInDays": 7
    }
