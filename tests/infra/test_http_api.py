"""HttpApiEndpoint construct: explicit routes with IAM on operator routes, throttling,
JSON access logs."""

from __future__ import annotations

import json
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


def _routes(template: Template) -> dict[str, str]:
    """``{"METHOD /path": AuthorizationType}`` of every route in the template."""
    return {
        props["RouteKey"]: props.get("AuthorizationType", "NONE")
        for props in (
            resource["Properties"]
            for resource in template.find_resources("AWS::ApiGatewayV2::Route").values()
        )
    }


#: Written out, not derived: the contract of the security issue, as a reviewer reads it.
PUBLIC_WRITES = {"POST /sessions", "DELETE /sessions/current"}


def test_no_route_lets_an_unsigned_caller_write_or_reach_the_cache_admin(
    template: Template,
) -> None:
    routes = _routes(template)
    assert "$default" not in routes and not any("{proxy" in key for key in routes)
    unsigned = {key for key, auth in routes.items() if auth == "NONE"}
    writes = {key for key in unsigned if key.split()[0] in {"POST", "PUT", "PATCH", "DELETE"}}
    assert writes == PUBLIC_WRITES
    assert not [key for key in unsigned if key.split()[1].startswith("/cache")]
    assert {"GET /products/{id}", "GET /products", "GET /health", "GET /users/me",
            "GET /stats/dashboard", "GET /openapi.json"} <= unsigned
    assert {"GET /users/{id}", "HEAD /users/{id}", "POST /products", "PUT /products/{id}",
            "PATCH /products/{id}", "DELETE /products/{id}", "POST /users", "PUT /users/{id}",
            "PATCH /users/{id}", "DELETE /users/{id}", "POST /cache/invalidate", "POST /cache/warm",
            "GET /cache/stats"} <= {key for key, auth in routes.items() if auth == "AWS_IAM"}


def test_every_operation_the_handler_serves_has_a_route_with_its_rule(
    template: Template,
) -> None:
    """Both sides of one fact: the handler's operations (the document its resolver
    generates) and the stack's routes, under the access rule the handler applies."""
    import json

    from lambda_app.api.access import caller_kind, needs_signature
    from lambda_app.api.app import openapi_json

    document = json.loads(openapi_json())
    served = {f"{method.upper()} {path}" for path, ops in document["paths"].items()
              for method in ops}
    routes = _routes(template)
    assert served <= set(routes)
    for key, auth in routes.items():
        method, path = key.split(" ", 1)
        expected = "AWS_IAM" if needs_signature(caller_kind(method, path)) else "NONE"
        assert auth == expected, key
    # personal data: a user record by id is never a public route on AWS
    assert routes["GET /users/{id}"] == routes["HEAD /users/{id}"] == "AWS_IAM"
    assert routes["GET /users/me"] == "NONE"  # the handler validates the bearer session


def test_routes_integrate_with_the_function(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api", {"ProtocolType": "HTTP", "Name": "t"}
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"},
    )
    permissions = template.find_resources("AWS::Lambda::Permission", {"Properties": {
        "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com"}})
    # One statement for the whole API (one per route filled the function's 20 KB policy).
    assert len(permissions) == 1, len(permissions)
    (permission,) = permissions.values()
    source = json.dumps(permission["Properties"]["SourceArn"])
    assert '{"Ref": "HttpApi' in source and source.endswith('"/*/*/*"]]}')  # this API only


def test_access_logs_name_the_verified_caller_and_authorizer_errors() -> None:
    fields = json.loads(ACCESS_LOG_FORMAT)
    assert fields["caller"] == "$context.identity.userArn"
    assert fields["authorizerError"] == "$context.authorizer.error"


def test_an_open_api_is_not_offered_because_the_handler_would_refuse_its_calls() -> None:
    from lambda_app.config_types import ConfigError

    from .conftest import config_for

    with pytest.raises(ConfigError) as refused:
        config_for("dev", **{"api.auth": "open"})
    assert "open is not offered" in str(refused.value)


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
