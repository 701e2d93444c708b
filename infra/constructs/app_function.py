"""One Lambda function of the app: arm64, newest Python, in the VPC, with its own role.

Why a hand-made role instead of the managed ``AWSLambdaVPCAccessExecutionRole``: the
managed policy lets the function write to every log group; this role writes only to the
function's own group. Grants for the cache and the database are added by the stack
(``cache.grant_connect(fn)``), so each function gets exactly what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import ARCHITECTURE, PYTHON_RUNTIME
from infra.conversions import retention
from infra.nag import acknowledge

#: What Lambda needs to attach the function to the VPC; EC2 does not scope these actions.
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


class AppFunction(Construct):
    """Exposes ``function``, ``role`` and ``log_group``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        handler: str,
        description: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        environment: Mapping[str, str],
        memory_mb: int,
        timeout: Duration,
        reserved_concurrency: int | None,
        log_retention_days: int,
        tracing: bool,
        log_removal: RemovalPolicy = RemovalPolicy.DESTROY,
        snapstart: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(log_retention_days),
            removal_policy=log_removal,
        )
        basics = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(actions=_ENI_ACTIONS, resources=["*"]),
        ]
        # Inline in the role: what every function needs exists with the role itself;
        # tracing (added by CDK when enabled) and the stack's grants go to its default policy.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description}: own logs and VPC ENIs, plus explicit grants",
            inline_policies={"Basics": iam.PolicyDocument(statements=basics)},
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=PYTHON_RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            role=self.role,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            environment=dict(environment),
            memory_size=memory_mb,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snapstart else None,
        )
        #: What callers invoke: the function itself, or with SnapStart its ``live`` alias
        #: (snapshots exist for published versions only).
        self.invoked: lambda_.IFunction = self.function
        if snapstart:
            self.invoked = lambda_.Alias(
                self, "Live", alias_name="live", version=self.function.current_version
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "Published: every deploy publishes current_version and the live alias, "
                "which API Gateway invokes, points at it.",
            )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "EC2 network-interface and X-Ray actions do not support resource-level "
            "permissions; Lambda needs them to run in the VPC and to send traces.",
        )
