"""checkov's findings that this design accepts, each with its reason, in the templates.

checkov reads ``Metadata.checkov.skip`` on a resource as "this finding is known, and
here is why". An Aspect writes it onto every resource a rule below matches, so a reason
is stated once and lands beside each resource it covers, including the functions CDK
adds itself (the Provider framework's, the default-security-group one). A finding that
matches no rule here fails ``make test``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jsii
from aws_cdk import Aspects, CfnResource, IAspect, Stack
from constructs import IConstruct

_FUNCTION = "AWS::Lambda::Function"


def _ours(resource: CfnResource) -> bool:
    """One of the app's three functions (their logical ids start with the role name)."""
    logical = Stack.of(resource).resolve(resource.logical_id)
    return any(str(logical).startswith(name) for name in ("Api", "Warmer", "Migrate"))


@dataclass(frozen=True)
class Skip:
    check: str
    resource_type: str
    reason: str
    applies: Callable[[CfnResource], bool] = lambda _resource: True


SKIPS: tuple[Skip, ...] = (
    Skip("CKV_AWS_158", "AWS::Logs::LogGroup",
         "CloudWatch Logs encrypts every group at rest; the logs hold no secrets (tokens and "
         "passwords are never logged), so a customer key would add cost, not protection."),
    Skip("CKV_AWS_173", _FUNCTION,
         "Environment variables hold endpoints and settings only; secrets are passed by ARN "
         "(DB_SECRET_ARN) and read at run time, so there is nothing to encrypt with a CMK."),
    Skip("CKV_AWS_116", _FUNCTION,
         "API Gateway and the CloudFormation custom resource invoke these synchronously "
         "and see every error; the warmer's schedule re-runs it every few minutes, so a "
         "lost warm is replaced by the next, and a queue would only collect stale ones."),
    Skip("CKV_AWS_115", _FUNCTION,
         "Reserved concurrency is configuration (functions.*_reserved_concurrency: set in "
         "prod); dev leaves it unset so a small account quota is not carved up."),
    Skip("CKV_AWS_117", _FUNCTION,
         "CDK's own helper functions (the custom-resource Provider framework, the default "
         "security group restriction) answer CloudFormation and call AWS APIs, outside "
         "the VPC by design; the app's functions all run in the VPC.",
         applies=lambda resource: not _ours(resource)),
    Skip("CKV_AWS_111", "AWS::IAM::Role",
         "The only unconstrained actions are the EC2 network-interface actions a function "
         "in a VPC needs; they take no resource-level constraint.",
         applies=_ours),
    Skip("CKV_AWS_149", "AWS::SecretsManager::Secret",
         "Encrypted with the account's aws/secretsmanager key; access is limited by the "
         "secret's IAM grants (the functions that need it) and the VPC endpoint policy."),
    Skip("CKV_AWS_161", "AWS::RDS::DBInstance",
         "The functions authenticate to RDS Proxy with the generated secret over TLS, and "
         "the proxy to MySQL; IAM database authentication would add a token call per "
         "connection and cap new connections per second."),
    Skip("CKV_AWS_118", "AWS::RDS::DBInstance",
         "Enhanced monitoring is configuration (mysql.monitoring_interval_seconds: 60 in "
         "prod); dev turns it off to save its cost.",
         applies=lambda resource: not _has(resource, "monitoring_interval")),
    Skip("CKV_AWS_157", "AWS::RDS::DBInstance",
         "Multi-AZ is configuration (mysql.multi_az: on in prod); dev runs one zone.",
         applies=lambda resource: not _has(resource, "multi_az")),
)


def _has(resource: CfnResource, prop: str) -> bool:
    """Whether the L1 resource sets ``prop`` (its Python attribute) to a truthy value."""
    value = Stack.of(resource).resolve(getattr(resource, prop, None))
    return bool(value) and str(value).lower() not in ("0", "false")


@jsii.implements(IAspect)
class CheckovSkips:
    """Writes ``Metadata.checkov.skip`` on every resource a :data:`SKIPS` rule matches."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        skips = [
            {"id": skip.check, "comment": skip.reason}
            for skip in SKIPS
            if node.cfn_resource_type == skip.resource_type and skip.applies(node)
        ]
        if skips:
            node.add_metadata("checkov", {"skip": skips})


def add_checkov_skips(scope: IConstruct) -> None:
    Aspects.of(scope).add(CheckovSkips())
