"""Runs the database migrations on every deploy that changes the code.

Why the Provider framework: its own (non-VPC) function invokes the migrate function
synchronously and answers CloudFormation, so the migrate function, which lives in
isolated subnets without internet, never has to reach the pre-signed S3 response URL.
The handler gets the CloudFormation event (``RequestType`` Create/Update/Delete) and
returns ``{"PhysicalResourceId": ..., "Data": {...}}``; raising fails the deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from aws_cdk import CfnResource, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.conversions import retention
from infra.nag import acknowledge
from lambda_app.handlers.migration_request import CODE_VERSION_PROPERTY

RESOURCE_TYPE = "Custom::DatabaseMigration"


#: What the Provider framework adds to the migrate function's own time before it can
#: answer CloudFormation (its function's start, the invoke, the response upload).
FRAMEWORK_MARGIN = Duration.minutes(2)


class MigrationRunner(Construct):
    """Exposes ``provider`` and ``resource``; new code or a change in any ``triggers``
    value runs the migrations again.

    ``code_version`` is also the migrate function's own (``MIGRATOR_CODE_VERSION``), so
    a rollback's Update, carrying the old version, is answered without migrating. The
    service timeout is the function's timeout plus the framework's margin: a hung
    migration fails the deploy within that, not after CloudFormation's default hour.
    A retry cannot migrate twice: migrations are recorded and applied under a lock.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        migrate_function: lambda_.IFunction,
        code_version: str,
        triggers: Mapping[str, str],
        function_timeout: Duration,
        log_retention_days: int,
        log_removal: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "ProviderLogs",
            retention=retention(log_retention_days),
            removal_policy=log_removal,
        )
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=migrate_function,
            log_group=self.log_group,
        )
        self.resource = CustomResource(
            self,
            "Migration",
            service_token=self.provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={CODE_VERSION_PROPERTY: code_version, **triggers},
            service_timeout=Duration.seconds(
                function_timeout.to_seconds() + FRAMEWORK_MARGIN.to_seconds()),
        )
        acknowledge(
            self.provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "The CDK Provider framework's own function writes its logs through the "
            "AWS-maintained basic execution policy.",
        )
        invoked = Stack.of(self).resolve(
            cast(CfnResource, migrate_function.node.default_child).logical_id
        )
        acknowledge(
            self.provider,
            f"AwsSolutions-IAM5[Resource::<{invoked}.Arn>:*]",
            "The framework may invoke any version of the migrate function ('<arn>:*'), "
            "and that one function only.",
        )
        acknowledge(
            self.provider,
            "AwsSolutions-L1",
            "The Provider framework function's Node.js runtime is chosen by aws-cdk-lib.",
        )
