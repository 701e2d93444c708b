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

from aws_cdk import CfnResource, CustomResource, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.conversions import retention
from infra.nag import acknowledge

RESOURCE_TYPE = "Custom::DatabaseMigration"


class MigrationRunner(Construct):
    """Exposes ``provider`` and ``resource``; a change in any ``triggers`` value re-runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        migrate_function: lambda_.IFunction,
        triggers: Mapping[str, str],
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
            properties=dict(triggers),
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
