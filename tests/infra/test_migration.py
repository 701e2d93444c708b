"""MigrationRunner construct: the migrate function runs through the Provider framework."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Match, Template

from infra.constructs.migration import RESOURCE_TYPE, MigrationRunner

from .conftest import ConstructStack, inline_function

pytestmark = pytest.mark.infra


@pytest.fixture
def template(construct_stack: Callable[..., ConstructStack]) -> Template:
    built = construct_stack()
    migrate = inline_function(built.stack, "Migrate", "lambda_app.handlers.migrate.handler")
    MigrationRunner(
        built.stack,
        "Migration",
        migrate_function=migrate,
        code_version="v1",
        triggers={"DatabaseHost": "db.example"},
        function_timeout=Duration.seconds(420),
        log_retention_days=7,
    )
    return built.template()


def test_custom_resource_carries_the_code_version(template: Template) -> None:
    template.has_resource_properties(
        RESOURCE_TYPE,
        {
            "ServiceToken": {
                "Fn::GetAtt": [Match.string_like_regexp("MigrationProviderframeworkonEvent"), "Arn"]
            },
            "CodeVersion": "v1",
            "DatabaseHost": "db.example",
            "ServiceTimeout": "540",  # the function's 420 s and the framework's margin
        },
    )


def test_provider_invokes_only_the_migrate_function(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "lambda:InvokeFunction",
                                "Resource": Match.array_with(
                                    [{"Fn::GetAtt": [Match.string_like_regexp("^Migrate"), "Arn"]}]
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": {
                    "USER_ON_EVENT_FUNCTION_ARN": {
                        "Fn::GetAtt": [Match.string_like_regexp("^Migrate"), "Arn"]
                    }
                }
            }
        },
    )
