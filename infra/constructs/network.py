"""VPC with isolated data subnets, function subnets, a Secrets Manager endpoint and flow logs.

Why no NAT by default: the functions only talk to the cache, the database and Secrets
Manager, all reachable inside the VPC (the endpoint), so a NAT gateway would only add cost
and an egress path nobody needs. ``network.nat_gateways`` adds one per zone if wanted, and
then lets the functions reach HTTPS outside the VPC through it (and nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import NetworkConfig
from infra.conversions import log_removal, plain_removal, retention
from infra.nag import acknowledge

FUNCTION_SUBNETS = "functions"
DATA_SUBNETS = "data"
PUBLIC_SUBNETS = "public"
HTTPS = 443
#: The construct id aws-cdk-lib gives the function behind restrict_default_security_group.
DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


class Network(Construct):
    """Exposes ``vpc``, ``function_security_group``, ``function_subnets``, ``data_subnets``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: NetworkConfig,
        cache_port: int,
        database_port: int,
        removal_policy: str,
        secret_tags: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        with_nat = config.nat_gateways > 0
        subnets = [
            ec2.SubnetConfiguration(
                name=FUNCTION_SUBNETS,
                subnet_type=(
                    ec2.SubnetType.PRIVATE_WITH_EGRESS
                    if with_nat
                    else ec2.SubnetType.PRIVATE_ISOLATED
                ),
                cidr_mask=22,
            ),
            ec2.SubnetConfiguration(
                name=DATA_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
            ),
        ]
        if with_nat:
            subnets.insert(
                0,
                ec2.SubnetConfiguration(
                    name=PUBLIC_SUBNETS, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.cidr),
            availability_zones=list(config.availability_zones),
            nat_gateways=config.nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        self._default_sg_function_logs(config.flow_log_retention_days, removal_policy)
        acknowledge(
            self.vpc,
            "CloudFormation-Validate::W3010",
            "Zones are explicit config (network.availability_zones) so synth needs no AWS "
            "lookup and the template is the same everywhere.",
        )
        self.function_subnets = ec2.SubnetSelection(subnet_group_name=FUNCTION_SUBNETS)
        self.data_subnets = ec2.SubnetSelection(subnet_group_name=DATA_SUBNETS)

        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention(config.flow_log_retention_days),
            removal_policy=plain_removal(removal_policy),
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="Lambda functions: egress only to the cache, the database and endpoints",
            allow_all_outbound=False,
        )
        inside_vpc = ec2.Peer.ipv4(self.vpc.vpc_cidr_block)
        for port, purpose in (
            (cache_port, "Valkey (TLS)"),
            (database_port, "MySQL (TLS)"),
            (HTTPS, "VPC endpoints (HTTPS)"),
        ):
            self.function_security_group.add_egress_rule(inside_vpc, ec2.Port.tcp(port), purpose)
        if with_nat:
            # What a NAT gateway is for: HTTPS to services outside the VPC (AWS APIs that
            # have no endpoint here, third-party APIs). Nothing else leaves the VPC.
            self.function_security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS),
                "HTTPS to the internet through the NAT gateways (network.nat_gateways)")

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from the functions only",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            self.function_security_group, ec2.Port.tcp(HTTPS), "HTTPS from the functions"
        )
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.function_subnets,
            security_groups=[self.endpoint_security_group],
            private_dns_enabled=True,
            open=False,
        )
        # Only this app's secrets (by their tags), read by this account's principals: the
        # endpoint is no path to any other secret, here or in another account.
        self.secrets_manager_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ThisAppsSecretsOnly",
                principals=[iam.AnyPrincipal()],
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:PrincipalAccount": Stack.of(self).account,
                        **{f"aws:ResourceTag/{key}": value for key, value in secret_tags.items()},
                    }
                },
            )
        )

    def _default_sg_function_logs(self, days: int, removal_policy: str) -> None:
        """``restrict_default_security_group`` runs a CDK-provided function with no log
        group of its own: Lambda would create one that keeps its logs forever. Give it one
        with the network's retention, through the function's logging config."""
        provider = Stack.of(self).node.try_find_child(DEFAULT_SG_PROVIDER)
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if not isinstance(handler, CfnResource):
            raise RuntimeError(f"aws-cdk-lib no longer builds {DEFAULT_SG_PROVIDER}/Handler: "
                               "find where its function is now and give it a log group")
        self.default_sg_log_group = logs.LogGroup(
            self, "RestrictDefaultSgLogs", retention=retention(days),
            removal_policy=log_removal(removal_policy))
        handler.add_property_override("LoggingConfig",
                                      {"LogGroup": self.default_sg_log_group.log_group_name})
