"""ValkeyCache construct: engine, parameter group, TLS/KMS, RBAC with IAM, cluster mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from infra.constructs.valkey_cache import ValkeyCache, parameter_group_properties
from lambda_app.settings import MAXMEMORY_POLICIES as EVICTION_POLICIES

from .conftest import ConstructStack, config_for, properties_of, with_section

pytestmark = pytest.mark.infra


def build_cache(
    make: Callable[..., ConstructStack], **valkey: object
) -> tuple[ValkeyCache, Template]:
    config = with_section(config_for("dev"), "valkey", **valkey) if valkey else None
    built = make(config)
    cache = ValkeyCache(
        built.stack,
        "Cache",
        vpc=built.network.vpc,
        subnets=built.network.data_subnets,
        client_security_group=built.network.function_security_group,
        config=built.config.valkey,
        name=built.config.prefix,
        removal_policy=built.config.removal_policy,
    )
    return cache, built.template()


@pytest.fixture
def default_cache(construct_stack: Callable[..., ConstructStack]) -> tuple[ValkeyCache, Template]:
    return build_cache(construct_stack)


def test_replication_group_runs_valkey_from_config_with_one_replica_multi_az(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.resource_count_is("AWS::ElastiCache::ReplicationGroup", 1)
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "Engine": "valkey",
            "EngineVersion": "9.1",
            "CacheNodeType": "cache.t4g.micro",
            "ReplicationGroupId": "valkey-caching-dev",
            "ClusterMode": "disabled",
            "NumCacheClusters": 2,
            "MultiAZEnabled": True,
            "AutomaticFailoverEnabled": True,
            "NumNodeGroups": Match.absent(),
        },
    )


def test_tls_is_required_and_data_is_encrypted_with_a_rotating_kms_key(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AtRestEncryptionEnabled": True,
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("CacheKey"), "Arn"]},
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_parameter_group_family_and_policy_come_from_config(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::ElastiCache::ParameterGroup",
        {
            "CacheParameterGroupFamily": "valkey9",
            "Properties": {"maxmemory-policy": "allkeys-lfu", "cluster-enabled": "no"},
        },
    )
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"CacheParameterGroupName": {"Ref": Match.string_like_regexp("CacheParameterGroup")}},
    )


@pytest.mark.parametrize("policy", EVICTION_POLICIES)
def test_any_of_the_eight_policies_lands_in_the_parameter_group(policy: str) -> None:
    config = with_section(config_for("dev"), "valkey", maxmemory_policy=policy)
    assert parameter_group_properties(config.valkey)["maxmemory-policy"] == policy


def test_optional_sampling_and_lfu_tuning_are_set_only_when_configured(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    assert set(parameter_group_properties(config_for("dev").valkey)) == {
        "maxmemory-policy",
        "cluster-enabled",
        "hash-max-listpack-value",
    }
    _, template = build_cache(
        construct_stack,
        maxmemory_policy="volatile-lfu",
        maxmemory_samples=10,
        lfu_log_factor=12,
        lfu_decay_time=5,
    )
    template.has_resource_properties(
        "AWS::ElastiCache::ParameterGroup",
        {
            "Properties": {
                "maxmemory-policy": "volatile-lfu",
                "maxmemory-samples": "10",
                "lfu-log-factor": "12",
                "lfu-decay-time": "5",
                "cluster-enabled": "no",
            }
        },
    )


def test_rbac_user_group_has_a_disabled_default_user_and_an_iam_app_user(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::ElastiCache::User",
        {
            "Engine": "valkey",
            "UserName": "default",
            "AccessString": Match.string_like_regexp("^off "),
            "AuthenticationMode": {"Type": "password", "Passwords": Match.any_value()},
        },
    )
    template.has_resource_properties(
        "AWS::ElastiCache::User",
        {
            "Engine": "valkey",
            "UserId": "valkey-caching-dev-app",
            "UserName": "valkey-caching-dev-app",
            "AccessString": Match.string_like_regexp("^on "),
            "AuthenticationMode": {"Type": "iam"},
        },
    )
    template.has_resource_properties(
        "AWS::ElastiCache::UserGroup",
        {
            "Engine": "valkey",
            "UserGroupId": "valkey-caching-dev-users",
            "UserIds": ["valkey-caching-dev-default", "valkey-caching-dev-app"],
        },
    )
    template.has_resource(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "Properties": Match.object_like(
                {"UserGroupIds": ["valkey-caching-dev-users"], "AuthToken": Match.absent()}
            ),
            "DependsOn": Match.array_with([Match.string_like_regexp("CacheUserGroup")]),
        },
    )


def test_security_group_admits_only_the_functions_on_the_cache_port(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "IpProtocol": "tcp",
            "FromPort": 6379,
            "ToPort": 6379,
            "GroupId": {"Fn::GetAtt": [Match.string_like_regexp("CacheSecurityGroup"), "GroupId"]},
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("NetworkFunctionSecurityGroup"), "GroupId"]
            },
        },
    )
    groups = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("Valkey")}},
    )
    (group,) = groups.values()
    assert "SecurityGroupIngress" not in group["Properties"]  # no CIDR-based ingress


def test_subnet_group_uses_the_isolated_data_subnets(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::ElastiCache::SubnetGroup",
        {"SubnetIds": [{"Ref": Match.string_like_regexp("Vpcdata")}] * 2},
    )


def test_snapshots_and_slow_log_follow_config(default_cache: tuple[ValkeyCache, Template]) -> None:
    _, template = default_cache
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "SnapshotRetentionLimit": 1,
            "SnapshotWindow": "03:00-04:00",
            "LogDeliveryConfigurations": [
                {
                    "DestinationType": "cloudwatch-logs",
                    "LogFormat": "json",
                    "LogType": "slow-log",
                    "DestinationDetails": {
                        "CloudWatchLogsDetails": {
                            "LogGroup": {"Ref": Match.string_like_regexp("CacheSlowLog")}
                        }
                    },
                }
            ],
        },
    )
    # Not any log group: the network's flow logs keep 7 days in dev too.
    assert properties_of(template, "AWS::Logs::LogGroup", "CacheSlowLog") == {"RetentionInDays": 7}


def test_cluster_mode_shards_the_keyspace(construct_stack: Callable[..., ConstructStack]) -> None:
    cache, template = build_cache(
        construct_stack, cluster_mode=True, shards=3, replicas_per_shard=2
    )
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "ClusterMode": "enabled",
            "NumNodeGroups": 3,
            "ReplicasPerNodeGroup": 2,
            "NumCacheClusters": Match.absent(),
            "AutomaticFailoverEnabled": True,
        },
    )
    template.has_resource_properties(
        "AWS::ElastiCache::ParameterGroup", {"Properties": {"cluster-enabled": "yes"}}
    )
    assert cache.endpoint.cluster is True
    assert Stack.of(cache).resolve(cache.endpoint.host) == {
        "Fn::GetAtt": [
            Stack.of(cache).get_logical_id(cache.replication_group),
            "ConfigurationEndPoint.Address",
        ]
    }
    assert len(cache.member_cluster_ids) == 9
    assert cache.member_cluster_ids[0] == "valkey-caching-dev-0001-001"


def test_auth_token_alternative_keeps_the_token_in_secrets_manager(
    construct_stack: Callable[..., ConstructStack],
) -> None:
    cache, template = build_cache(construct_stack, auth="password")
    template.resource_count_is("AWS::ElastiCache::User", 0)
    template.resource_count_is("AWS::ElastiCache::UserGroup", 0)
    template.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "AuthToken": {
                "Fn::Join": [
                    "",
                    Match.array_with(
                        [
                            "{{resolve:secretsmanager:",
                            {"Ref": Match.string_like_regexp("AuthToken")},
                        ]
                    ),
                ]
            },
            "UserGroupIds": Match.absent(),
        },
    )
    assert cache.endpoint.auth == "password"
    assert cache.endpoint.password_secret_arn is not None
    assert cache.endpoint.username is None


def test_member_cluster_ids_follow_elasticache_naming(
    default_cache: tuple[ValkeyCache, Template],
) -> None:
    cache, _ = default_cache
    assert cache.member_cluster_ids == ["valkey-caching-dev-001", "valkey-caching-dev-002"]


@pytest.mark.parametrize(("version", "family"), [
    ("7.2", "valkey7"), ("8.0", "valkey8"), ("8.1", "valkey8"), ("8.2", "valkey8"),
    ("9.0", "valkey9"), ("9.1", "valkey9"),
])
def test_every_engine_elasticache_offers_synthesizes_with_its_family(
    construct_stack, version: str, family: str
) -> None:
    """The families are AWS's (valkey7 for 7.2, valkey8 for 8.x, valkey9 for 9.x), written
    here as the documentation states them, not derived from the config's own table."""
    _, template = build_cache(construct_stack, engine_version=version)
    template.has_resource_properties("AWS::ElastiCache::ReplicationGroup",
                                     {"Engine": "valkey", "EngineVersion": version})
    template.has_resource_properties("AWS::ElastiCache::ParameterGroup",
                                     {"CacheParameterGroupFamily": family})


def test_product_hashes_stay_listpacks(construct_stack) -> None:
    """hash-max-listpack-value is sized for ~120-character descriptions (Valkey's default
    of 64 bytes turns such a hash into a hashtable, ~1.8x the memory: bench/memory.py)."""
    _, template = build_cache(construct_stack)
    props = template.find_resources("AWS::ElastiCache::ParameterGroup")
    (group,) = props.values()
    assert int(group["Properties"]["Properties"]["hash-max-listpack-value"]) >= 128
