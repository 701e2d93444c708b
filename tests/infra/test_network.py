"""Network construct: isolated data subnets, no NAT by default, tight function egress."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk.assertions import Match

from .conftest import ConstructStack, Synthesized, config_for, with_section

pytestmark = pytest.mark.infra


def test_two_zones_isolated_subnets_and_no_nat(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    template = construct_stack().template()
    template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.40.0.0/16"})
    template.resource_count_is("AWS::EC2::Subnet", 4)  # functions + data in each zone
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    for zone in ("us-east-1a", "us-east-1b"):
        template.has_resource_properties(
            "AWS::EC2::Subnet", {"AvailabilityZone": zone, "MapPublicIpOnLaunch": False}
        )


def test_nat_gateways_add_public_subnets_and_egress(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    config = with_section(config_for("dev"), "network", nat_gateways=1)
    template = construct_stack(config).template()
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::Subnet", 6)
    # The functions may use it: HTTPS anywhere, on top of the in-VPC ports.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("^Lambda functions"),
            "SecurityGroupEgress": Match.array_with([Match.object_like(
                {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443})]),
        },
    )


def test_without_nat_nothing_leaves_the_vpc(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    groups = construct_stack().template().find_resources("AWS::EC2::SecurityGroup")
    for group in groups.values():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0", rule


def test_function_security_group_egress_is_limited_to_vpc_ports(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    template = construct_stack().template()
    egress = [
        {
            "CidrIp": {"Fn::GetAtt": [Match.string_like_regexp("NetworkVpc"), "CidrBlock"]},
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "Description": Match.any_value(),
        }
        for port in (6379, 3306, 443)
    ]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("^Lambda functions"),
            "SecurityGroupEgress": egress,
        },
    )


def test_secrets_manager_endpoint_is_private_and_reachable_from_functions_only(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    template = construct_stack().template()
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "ServiceName": "com.amazonaws.us-east-1.secretsmanager",
            "VpcEndpointType": "Interface",
            "PrivateDnsEnabled": True,
            "SubnetIds": [{"Ref": Match.string_like_regexp("Vpcfunctions")}] * 2,
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 443,
            "ToPort": 443,
            "GroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("NetworkEndpointSecurityGroup"), "GroupId"]
            },
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("NetworkFunctionSecurityGroup"), "GroupId"]
            },
        },
    )


def test_flow_logs_go_to_cloudwatch(construct_stack: Callable[..., ConstructStack]) -> None:
    template = construct_stack().template()
    template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"},
    )


def test_the_secrets_endpoint_admits_only_this_apps_secrets(prod: Synthesized) -> None:
    """An interface endpoint without a policy is a path to every secret of every account
    the functions could be tricked into reading; this one admits the app's, by its tags."""
    prod.template("Network").has_resource_properties("AWS::EC2::VPCEndpoint", {
        "ServiceName": Match.string_like_regexp("secretsmanager"),
        "PolicyDocument": {"Statement": [Match.object_like({
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Condition": {"StringEquals": {
                "aws:PrincipalAccount": {"Ref": "AWS::AccountId"},
                "aws:ResourceTag/project": "valkey-caching",
                "aws:ResourceTag/environment": "prod",
            }},
        })]},
    })
