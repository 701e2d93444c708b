"""The scorecard's rules on plain describe-call data (incl. those moto cannot serve)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from scripts.ops import judges

pytestmark = pytest.mark.unit

GOOD_GROUP = {
    "Engine": "valkey",
    "MultiAZ": "enabled",
    "AutomaticFailover": "enabled",
    "TransitEncryptionEnabled": True,
    "TransitEncryptionMode": "required",
    "AtRestEncryptionEnabled": True,
    "UserGroupIds": ["app-users"],
    "AuthTokenEnabled": False,
}


def with_(base: Mapping[str, object], **changes: object) -> dict[str, object]:
    return {**base, **changes}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8.0.1", (8, 0, 1)),
        ("v20.20.2", (20, 20, 2)),
        ("2.1148.1 (build 1a2b)", (2, 1148, 1)),
        ("7.2", (7, 2)),
        ("", ()),
        ("redis", ()),
    ],
)
def test_version_tuple(text: str, expected: tuple[int, ...]) -> None:
    assert judges.version_tuple(text) == expected


def test_cache_engine_reads_the_group_then_the_node() -> None:
    assert judges.cache_engine({"Engine": "valkey"}, {}).ok
    assert judges.cache_engine({}, {"Engine": "valkey"}).ok
    verdict = judges.cache_engine({"Engine": "redis"}, {"Engine": "redis"})
    assert (verdict.ok, verdict.detail) == (False, "engine redis")


@pytest.mark.parametrize(
    ("version", "ok"),
    [("8.0", True), ("8.1.0", True), ("7.2.4", False), ("10.0", True), ("", False)],
)
def test_cache_version(version: str, ok: bool) -> None:
    assert judges.cache_version({"EngineVersion": version}).ok is ok


def test_parameter_family_must_match_the_engine_major_and_not_be_a_default_group() -> None:
    good = {"CacheParameterGroupName": "app-dev-valkey8", "CacheParameterGroupFamily": "valkey8"}
    assert judges.parameter_family(good, "8.0").ok
    wrong_family = with_(good, CacheParameterGroupFamily="redis7")
    assert judges.parameter_family(wrong_family, "8.0").detail == (
        "group app-dev-valkey8 family redis7 (want valkey8)"
    )
    default = {"CacheParameterGroupName": "default.valkey8", "CacheParameterGroupFamily": "valkey8"}
    verdict = judges.parameter_family(default, "8.0")
    assert not verdict.ok
    assert "cannot set maxmemory-policy" in verdict.detail


@pytest.mark.parametrize(
    ("params", "expected", "ok", "says"),
    [
        ({"maxmemory-policy": "allkeys-lfu"}, "allkeys-lfu", True, "allkeys-lfu"),
        ({"maxmemory-policy": "noeviction"}, "allkeys-lfu", False, "noeviction: writes fail"),
        ({"maxmemory-policy": "allkeys-lru"}, "allkeys-lfu", False, "functions expect allkeys-lfu"),
        ({}, "allkeys-lfu", False, "not in the parameter group"),
    ],
)
def test_maxmemory_policy(params: dict[str, str], expected: str, ok: bool, says: str) -> None:
    verdict = judges.maxmemory_policy(params, expected)
    assert verdict.ok is ok
    assert says in verdict.detail


def test_multi_az_needs_failover_too() -> None:
    assert judges.multi_az(GOOD_GROUP).ok
    assert not judges.multi_az(with_(GOOD_GROUP, AutomaticFailover="disabled")).ok
    assert not judges.multi_az(with_(GOOD_GROUP, MultiAZ="disabled")).ok


def test_cache_tls_must_be_required_not_preferred() -> None:
    assert judges.cache_tls(GOOD_GROUP).ok
    assert judges.cache_tls(with_(GOOD_GROUP, TransitEncryptionMode=None)).ok
    preferred = judges.cache_tls(with_(GOOD_GROUP, TransitEncryptionMode="preferred"))
    assert not preferred.ok
    assert "plaintext clients still accepted" in preferred.detail
    assert not judges.cache_tls(with_(GOOD_GROUP, TransitEncryptionEnabled=False)).ok


def test_cache_at_rest() -> None:
    assert judges.cache_at_rest(GOOD_GROUP).ok
    assert not judges.cache_at_rest(with_(GOOD_GROUP, AtRestEncryptionEnabled=False)).ok


@pytest.mark.parametrize(
    ("groups", "token", "expected", "ok"),
    [
        (["u"], False, "iam", True),
        ([], True, "iam", False),  # IAM auth needs a user group
        ([], True, "password", True),
        (["u"], False, "password", True),
        ([], False, "none", False),
        (["u"], False, "none", False),  # the functions would not authenticate
    ],
)
def test_cache_auth(groups: list[str], token: bool, expected: str, ok: bool) -> None:
    group = with_(GOOD_GROUP, UserGroupIds=groups, AuthTokenEnabled=token)
    assert judges.cache_auth(group, expected).ok is ok


def test_database_rules() -> None:
    db = {
        "Engine": "mysql",
        "EngineVersion": "8.4.3",
        "PubliclyAccessible": False,
        "StorageEncrypted": True,
    }
    assert judges.db_engine(db).ok
    assert not judges.db_engine(with_(db, Engine="postgres")).ok
    assert judges.db_private(db).ok
    assert judges.db_private(with_(db, PubliclyAccessible=True)).detail == "publicly accessible"
    assert not judges.db_private({}).ok  # unknown is not private
    assert judges.db_encrypted(db).ok
    assert not judges.db_encrypted(with_(db, StorageEncrypted=False)).ok


@pytest.mark.parametrize(
    ("value", "ok"), [("1", True), ("ON", True), ("0", False), ("OFF", False), (None, False)]
)
def test_db_tls(value: str | None, ok: bool) -> None:
    params = {} if value is None else {"require_secure_transport": value}
    assert judges.db_tls(params).ok is ok


def fn(name: str, subnets: list[str], groups: list[str]) -> dict[str, Any]:
    return {"FunctionName": name, "VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": groups}}


def test_functions_in_vpc() -> None:
    vpcs = {"s1": "vpc-data", "s2": "vpc-data", "s9": "vpc-other"}
    good = [fn("api", ["s1", "s2"], ["sg-fn"]), fn("warmer", ["s1"], ["sg-fn"])]
    assert judges.functions_in_vpc(good, vpcs, "vpc-data").ok
    outside: list[dict[str, Any]] = [
        *good,
        fn("migrate", ["s9"], ["sg-fn"]),
        {"FunctionName": "bare"},
    ]
    verdict = judges.functions_in_vpc(outside, vpcs, "vpc-data")
    assert (verdict.ok, verdict.detail) == (False, "not in the data VPC: bare, migrate")
    assert not judges.functions_in_vpc([fn("api", ["s1"], [])], vpcs, None).ok
    assert not judges.functions_in_vpc([], vpcs, "vpc-data").ok


def rule(**sources: object) -> dict[str, object]:
    return {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, **sources}


def test_admits_only_the_functions() -> None:
    allowed = judges.function_security_groups([fn("api", ["s1"], ["sg-fn"])])
    assert allowed == {"sg-fn"}
    only = [{"IpPermissions": [rule(UserIdGroupPairs=[{"GroupId": "sg-fn"}])]}]
    assert judges.admits_only(only, allowed).detail == "admits only sg-fn"
    cidr = [
        {
            "IpPermissions": [
                rule(UserIdGroupPairs=[{"GroupId": "sg-fn"}], IpRanges=[{"CidrIp": "0.0.0.0/0"}])
            ]
        }
    ]
    assert judges.admits_only(cidr, allowed).detail == "also admits 0.0.0.0/0"
    other = [{"IpPermissions": [rule(UserIdGroupPairs=[{"GroupId": "sg-bastion"}])]}]
    assert judges.admits_only(other, allowed).detail == "also admits sg-bastion"
    prefix = [{"IpPermissions": [rule(PrefixListIds=[{"PrefixListId": "pl-1"}])]}]
    assert not judges.admits_only(prefix, allowed).ok
    assert judges.admits_only([{"IpPermissions": []}], allowed).detail.startswith("admits nobody")
    assert not judges.admits_only([], allowed).ok


def alarm(namespace: str) -> dict[str, object]:
    return {"AlarmName": namespace, "Namespace": namespace}


def test_alarms_must_cover_cache_database_and_api() -> None:
    full = [alarm("AWS/ElastiCache"), alarm("AWS/RDS"), alarm("AWS/ApiGateway")]
    assert judges.alarms_cover(full).ok
    math_alarm = {
        "AlarmName": "x",
        "Metrics": [{"MetricStat": {"Metric": {"Namespace": "AWS/Lambda"}}}],
    }
    assert judges.alarms_cover([*full[:2], math_alarm]).ok
    verdict = judges.alarms_cover([alarm("AWS/RDS")])
    assert verdict.detail == "1 alarms; none on cache, api or functions"
    assert not judges.alarms_cover([]).ok


def test_api_health() -> None:
    assert judges.api_health(200, {"cache": "ok", "db": "ok"}).ok
    assert not judges.api_health(503, {"cache": "down", "db": "ok"}).ok
    assert not judges.api_health(200, "ok").ok


def test_expected_setting_reads_the_functions_environment() -> None:
    fns: list[dict[str, Any]] = [
        {"FunctionName": "a"},
        {"FunctionName": "b", "Environment": {"Variables": {"VALKEY_AUTH": "iam"}}},
    ]
    assert judges.expected_setting(fns, "VALKEY_AUTH", "none") == "iam"
    assert judges.expected_setting(fns, "CACHE_MAXMEMORY_POLICY", "allkeys-lfu") == "allkeys-lfu"


def test_a_pending_or_missing_subscription_reaches_nobody() -> None:
    confirmed = {"SubscriptionArn": "arn:aws:sns:us-east-1:1:t:abc", "Endpoint": "a@b.c"}
    pending = {"SubscriptionArn": "PendingConfirmation", "Endpoint": "a@b.c"}
    assert judges.alarm_subscriber([pending, confirmed]).ok
    assert "pending confirmation" in judges.alarm_subscriber([pending]).detail
    assert not judges.alarm_subscriber([]).ok


def test_metrics_flow_only_when_every_graphed_metric_has_data() -> None:
    assert judges.metrics_flowing({"CacheHits{...}": 3, "CacheMisses{...}": 1}).ok
    verdict = judges.metrics_flowing({"CacheHits{...}": 3, "CacheHit{...}": 0})
    assert not verdict.ok and "CacheHit{...}" in verdict.detail
    assert not judges.metrics_flowing({}).ok


@pytest.mark.parametrize(("unsigned", "signed", "ok"), [
    (403, 200, True), (401, 200, True), (200, 200, False), (403, 403, False), (500, 200, False),
])
def test_operator_routes_must_refuse_unsigned_and_serve_signed(unsigned, signed, ok) -> None:
    assert judges.api_auth(unsigned, signed).ok is ok


def test_the_schema_must_be_at_least_what_the_code_needs() -> None:
    assert judges.schema_current(2, 2).ok
    assert not judges.schema_current(1, 2).ok
