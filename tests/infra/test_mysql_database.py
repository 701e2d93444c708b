"""MysqlDatabase construct: MySQL 8.4, TLS-only, encrypted, generated secret, optional proxy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.constructs.mysql_database import MysqlDatabase

from .conftest import ConstructStack, Synthesized, config_for

pytestmark = pytest.mark.infra


def build_database(
    make: Callable[..., ConstructStack], env: str = "dev", **overrides: str
) -> tuple[MysqlDatabase, Template]:
    built = make(config_for(env, **overrides))
    database = MysqlDatabase(
        built.stack,
        "Database",
        vpc=built.network.vpc,
        subnets=built.network.data_subnets,
        client_security_group=built.network.function_security_group,
        config=built.config.mysql,
        name=built.config.prefix,
        removal_policy=built.config.removal_policy,
    )
    return database, built.template()


@pytest.fixture
def dev_database(
    construct_stack: Callable[..., ConstructStack],
) -> tuple[MysqlDatabase, Template]:
    """Dev with the proxy switched off: the direct-connection branch (and its CA bundle)."""
    return build_database(construct_stack, "dev", **{"mysql.proxy": "false"})


@pytest.fixture
def prod_database(
    construct_stack: Callable[..., ConstructStack],
) -> tuple[MysqlDatabase, Template]:
    return build_database(construct_stack, "prod")


def test_instance_is_mysql_84_encrypted_private_and_uses_the_secret(
    dev_database: tuple[MysqlDatabase, Template],
) -> None:
    _, template = dev_database
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "mysql",
            "EngineVersion": "8.4",  # major.minor: RDS upgrades the minor, no drift
            "DBInstanceClass": "db.t4g.micro",
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "DBName": "app",
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "MasterUserPassword": {
                "Fn::Join": [
                    "",
                    Match.array_with(
                        [
                            "{{resolve:secretsmanager:",
                            {"Ref": Match.string_like_regexp("Credentials")},
                        ]
                    ),
                ]
            },
            "EnableCloudwatchLogsExports": ["error", "slowquery"],
        },
    )
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"GenerateStringKey": "password"})},
    )


def test_parameter_group_requires_tls_and_writes_every_exported_log(
    dev_database: tuple[MysqlDatabase, Template],
) -> None:
    """The instance exports the slow-query log, so the server must write it: exported but
    off (the default) it shipped nothing."""
    _, template = dev_database
    (instance,) = template.find_resources("AWS::RDS::DBInstance").values()
    exported = instance["Properties"]["EnableCloudwatchLogsExports"]
    (group,) = template.find_resources("AWS::RDS::DBParameterGroup").values()
    parameters = group["Properties"]["Parameters"]
    assert group["Properties"]["Family"] == "mysql8.4"
    assert parameters["require_secure_transport"] == "1"
    assert "slowquery" in exported
    assert (parameters["slow_query_log"], parameters["log_output"]) == ("1", "FILE")
    assert float(parameters["long_query_time"]) > 0
    assert ("general_log" in parameters) == ("general" in exported)


def test_each_exported_log_type_is_switched_on() -> None:
    from infra.constructs.mysql_database import log_parameters

    assert log_parameters(["error"]) == {}
    assert log_parameters(["general"])["general_log"] == "1"
    assert log_parameters(["error", "slowquery"])["slow_query_log"] == "1"


def test_instance_lives_in_the_isolated_data_subnets(
    dev_database: tuple[MysqlDatabase, Template],
) -> None:
    _, template = dev_database
    template.has_resource_properties(
        "AWS::RDS::DBSubnetGroup",
        {"SubnetIds": [{"Ref": Match.string_like_regexp("Vpcdata")}] * 2},
    )


def test_dev_tears_down_easily(dev_database: tuple[MysqlDatabase, Template]) -> None:
    _, template = dev_database
    template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {"DeletionProtection": False, "DeleteAutomatedBackups": True, "MultiAZ": False}
            ),
            "DeletionPolicy": "Delete",
        },
    )
    template.resource_count_is("AWS::RDS::DBProxy", 0)


def test_dev_functions_connect_directly_on_the_db_port(
    dev_database: tuple[MysqlDatabase, Template],
) -> None:
    database, template = dev_database
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 3306,
            "GroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("DatabaseSecurityGroup"), "GroupId"]
            },
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("NetworkFunctionSecurityGroup"), "GroupId"]
            },
        },
    )
    assert database.endpoint.via_proxy is False


def test_prod_is_protected_multi_az_and_snapshotted(
    prod_database: tuple[MysqlDatabase, Template],
) -> None:
    _, template = prod_database
    template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {
                    "DeletionProtection": True,
                    "MultiAZ": True,
                    "BackupRetentionPeriod": 14,
                    "DBInstanceClass": "db.r7g.large",
                    "MonitoringInterval": 60,
                }
            ),
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
        },
    )


def test_prod_proxy_requires_tls_and_admits_only_the_functions(
    prod_database: tuple[MysqlDatabase, Template],
) -> None:
    database, template = prod_database
    template.has_resource_properties(
        "AWS::RDS::DBProxy",
        {"EngineFamily": "MYSQL", "RequireTLS": True, "DBProxyName": "valkey-caching-prod-proxy"},
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 3306,
            "GroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("DatabaseProxySecurityGroup"), "GroupId"]
            },
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("NetworkFunctionSecurityGroup"), "GroupId"]
            },
        },
    )
    # The instance itself admits only the proxy.
    instance_rules = template.find_resources(
        "AWS::EC2::SecurityGroupIngress",
        {
            "Properties": {
                "GroupId": {
                    "Fn::GetAtt": [Match.string_like_regexp("^DatabaseSecurityGroup"), "GroupId"]
                }
            }
        },
    )
    sources = {str(rule["Properties"]["SourceSecurityGroupId"]) for rule in instance_rules.values()}
    assert sources and all("ProxySecurityGroup" in source for source in sources)
    assert database.endpoint.via_proxy is True
    assert database.endpoint.port == 3306


def test_proxy_to_instance_traffic_is_opened_exactly_once(prod: Synthesized) -> None:
    """One ingress rule on the instance's group from the proxy's, one egress rule on the
    proxy's group to the instance's: the ones ProxyTarget writes, no hand-made copies."""
    template = prod.template("Data")
    groups = template.find_resources("AWS::EC2::SecurityGroup")
    proxy = next(k for k in groups if k.startswith("DatabaseProxySecurityGroup"))
    instance = next(k for k in groups if k.startswith("DatabaseSecurityGroup"))

    def rules(kind: str, owner: str, peer_key: str, peer: str) -> list[dict[str, Any]]:
        found = []
        for resource in template.find_resources(f"AWS::EC2::SecurityGroup{kind}").values():
            props = resource["Properties"]
            if props.get("GroupId", {}).get("Fn::GetAtt", [None])[0] == owner and \
                    props.get(peer_key, {}).get("Fn::GetAtt", [None])[0] == peer:
                found.append(props)
        return found

    ingress = rules("Ingress", instance, "SourceSecurityGroupId", proxy)
    egress = rules("Egress", proxy, "DestinationSecurityGroupId", instance)
    assert len(ingress) == 1 and len(egress) == 1, (ingress, egress)
    port = ingress[0]["FromPort"]  # the instance's own port attribute
    assert port == ingress[0]["ToPort"] and port["Fn::GetAtt"][1] == "Endpoint.Port"


def test_the_proxy_admits_the_application_user_and_only_the_migrator_reads_the_master(
    prod: Synthesized,
) -> None:
    import json

    data = prod.template("Data").to_json()["Resources"]
    secrets = {k for k, r in data.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    master = next(k for k in secrets if k.startswith("DatabaseCredentials"))
    app = next(k for k in secrets if k.startswith("DatabaseAppCredentials"))
    (proxy,) = [r for r in data.values() if r["Type"] == "AWS::RDS::DBProxy"]
    auth = json.dumps(proxy["Properties"]["Auth"])
    assert master in auth and app in auth
    api = prod.template("Api").to_json()["Resources"]
    policies = {k: json.dumps(r["Properties"]["PolicyDocument"]) for k, r in api.items()
                if r["Type"] == "AWS::IAM::Policy"}
    for role in ("ApiFunction", "WarmerFunction"):
        text = " ".join(v for k, v in policies.items() if k.startswith(role))
        assert "DatabaseAppCredentials" in text and "DatabaseCredentials" not in text, role
    migrator = " ".join(v for k, v in policies.items() if k.startswith("MigrateFunction"))
    assert "DatabaseAppCredentials" in migrator and "DatabaseCredentials" in migrator


def test_mysql_97_is_selectable_and_its_parameter_group_family_follows(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    """The suite runs the migrations and the data layer on Oracle MySQL 9.7 too
    (make test-shipped); 8.4 stays the default deployed engine."""
    _, template = build_database(construct_stack, "dev", **{"mysql.engine_version": "9.7"})
    template.has_resource_properties("AWS::RDS::DBInstance", {"EngineVersion": "9.7"})
    template.has_resource_properties("AWS::RDS::DBParameterGroup", {"Family": "mysql9.7"})
    assert config_for("dev").mysql.engine_version == "8.4"
