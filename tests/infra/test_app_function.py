"""AppFunction construct: newest Python on arm64, in the VPC, own log group, tight role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Match, Template

from infra.bundling import lambda_code
from infra.constructs.app_function import AppFunction
from infra.deployment import PROJECT_ROOT

from .conftest import ConstructStack

pytestmark = pytest.mark.infra


def build_function(
    make: Callable[..., ConstructStack], *, reserved: int | None = 5, tracing: bool = True
) -> tuple[AppFunction, Template]:
    built = make()
    app_function = AppFunction(
        built.stack,
        "ApiFunction",
        code=lambda_code(PROJECT_ROOT, bundle=False, ca_bundle_url=None).code,
        handler="lambda_app.handlers.api.handler",
        description="test api",
        vpc=built.network.vpc,
        subnets=built.network.function_subnets,
        security_group=built.network.function_security_group,
        environment={"VALKEY_TLS": "true"},
        memory_mb=512,
        timeout=Duration.seconds(10),
        reserved_concurrency=reserved,
        log_retention_days=14,
        tracing=tracing,
    )
    return app_function, built.template()


@pytest.fixture
def api_function(construct_stack: Callable[..., ConstructStack]) -> tuple[AppFunction, Template]:
    return build_function(construct_stack)


def test_runtime_architecture_handler_and_limits(
    api_function: tuple[AppFunction, Template],
) -> None:
    _, template = api_function
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "lambda_app.handlers.api.handler",
            "MemorySize": 512,
            "Timeout": 10,
            "ReservedConcurrentExecutions": 5,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": {"VALKEY_TLS": "true"}},
        },
    )


def test_function_runs_in_the_function_subnets_with_the_function_security_group(
    api_function: tuple[AppFunction, Template],
) -> None:
    _, template = api_function
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "VpcConfig": {
                "SubnetIds": [{"Ref": Match.string_like_regexp("Vpcfunctions")}] * 2,
                "SecurityGroupIds": [
                    {
                        "Fn::GetAtt": [
                            Match.string_like_regexp("NetworkFunctionSecurityGroup"),
                            "GroupId",
                        ]
                    }
                ],
            }
        },
    )


def test_logs_go_to_an_owned_group_with_retention(
    api_function: tuple[AppFunction, Template],
) -> None:
    _, template = api_function
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 14})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("ApiFunctionLogs")}}},
    )


def test_role_has_no_managed_policies_and_writes_only_its_own_logs(
    api_function: tuple[AppFunction, Template],
) -> None:
    _, template = api_function
    own_logs = {
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("ApiFunctionLogs"), "Arn"]},
    }
    unscoped = {
        "Action": [
            "ec2:AssignPrivateIpAddresses",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:UnassignPrivateIpAddresses",
        ],
        "Effect": "Allow",
        "Resource": "*",
    }
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "Description": Match.string_like_regexp("^test api"),
            "ManagedPolicyArns": Match.absent(),
            "Policies": [
                {
                    "PolicyName": "Basics",
                    "PolicyDocument": {"Statement": [own_logs, unscoped], "Version": "2012-10-17"},
                }
            ],
        },
    )


def test_tracing_adds_only_the_xray_write_actions(
    api_function: tuple[AppFunction, Template],
) -> None:
    _, template = api_function
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("ApiFunctionRole")}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                        "Effect": "Allow",
                        "Resource": "*",
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


def test_without_tracing_there_is_no_xray_permission(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    _, template = build_function(construct_stack, reserved=None, tracing=False)
    assert "xray" not in str(template.find_resources("AWS::IAM::Role"))
    attached = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("ApiFunctionRole")}]}},
    )
    assert attached == {}
    template.has_resource_properties(
        "AWS::Lambda::Function", {"ReservedConcurrentExecutions": Match.absent()}
    )
