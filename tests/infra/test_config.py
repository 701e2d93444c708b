"""infra/config: cdk.json -> typed config; bad values name the key and what it accepts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.config import ConfigError, load_config, read_flag
from lambda_app.settings import MAXMEMORY_POLICIES as EVICTION_POLICIES

from .conftest import cdk_context, config_for

pytestmark = pytest.mark.infra


def error_for(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(cdk_context(**overrides))
    return str(caught.value)


def test_dev_defaults_are_small_and_easy_to_tear_down() -> None:
    config = config_for("dev")
    assert config.prefix == "valkey-caching-dev"
    assert config.valkey.node_type == "cache.t4g.micro"
    assert config.valkey.maxmemory_policy == "allkeys-lfu"
    assert config.valkey.engine_version == "9.1"
    assert config.valkey.parameter_group_family == "valkey9"
    assert (config.valkey.cluster_mode, config.valkey.replicas_per_shard) == (False, 1)
    assert config.valkey.multi_az is True
    assert config.valkey.auth == "iam"
    assert config.mysql.instance_type == "db.t4g.micro"
    assert config.mysql.deletion_protection is False
    # Through RDS Proxy, whose certificate chains to public roots: no CA bundle to fetch,
    # so the default synth needs no network beyond PyPI.
    assert config.mysql.proxy is True
    assert config.removal_policy == "destroy"
    assert config.termination_protection is False
    assert config.network.nat_gateways == 0


def test_prod_is_protected_and_sized_up() -> None:
    config = config_for("prod")
    assert config.valkey.node_type == "cache.r7g.large"
    assert config.mysql.instance_type == "db.r7g.large"
    assert config.mysql.multi_az is True
    assert config.mysql.deletion_protection is True
    assert config.mysql.proxy is True
    assert config.removal_policy == "snapshot"
    assert config.termination_protection is True
    assert config.functions.api_reserved_concurrency == 100


def test_config_is_frozen() -> None:
    config = config_for("dev")
    with pytest.raises(ValidationError, match="frozen"):
        config.valkey.maxmemory_policy = "noeviction"  # type: ignore[misc]


@pytest.mark.parametrize("policy", EVICTION_POLICIES)
def test_every_eviction_policy_is_accepted(policy: str) -> None:
    assert config_for("dev", **{"valkey.maxmemory_policy": policy}).valkey.maxmemory_policy == (
        policy
    )


def test_cli_overrides_are_parsed_from_strings() -> None:
    config = config_for(
        "dev",
        **{
            "valkey.cluster_mode": "true",
            "valkey.shards": "3",
            "valkey.maxmemory_samples": "10",
            "functions.api_reserved_concurrency": "null",
            "network.availability_zones": "us-east-1a,us-east-1c",
        },
    )
    assert config.valkey.cluster_mode is True
    assert config.valkey.shards == 3
    assert config.valkey.maxmemory_samples == 10
    assert config.functions.api_reserved_concurrency is None
    assert config.network.availability_zones == ("us-east-1a", "us-east-1c")


def test_unknown_environment_names_the_key_and_the_environments() -> None:
    message = error_for(env="qa")
    assert "'env'" in message
    assert "'qa'" in message
    assert "dev, prod" in message


def test_unknown_policy_names_the_key_and_all_eight_policies() -> None:
    message = error_for(**{"valkey.maxmemory_policy": "allkeys-fifo"})
    assert "'valkey.maxmemory_policy'" in message
    for policy in EVICTION_POLICIES:
        assert policy in message


def test_unknown_policy_in_cdk_json_names_the_full_path() -> None:
    context = cdk_context()
    context["environments"]["prod"]["valkey"]["maxmemory_policy"] = "lru"
    with pytest.raises(ConfigError) as caught:
        load_config({**context, "env": "prod"})
    assert "'environments.prod.valkey.maxmemory_policy'" in str(caught.value)
    assert "allkeys-lfu" in str(caught.value)


def test_zero_shards_is_rejected_with_the_range() -> None:
    message = error_for(**{"valkey.cluster_mode": "true", "valkey.shards": "0"})
    assert "'valkey.shards'" in message
    assert "from 1 to 500" in message


@pytest.mark.parametrize(
    ("overrides", "key", "allowed"),
    [
        ({"valkey.engine_version": "7.0"}, "valkey.engine_version", "7.2, 8.0, 8.1, 8.2, 9.0, 9.1"),
        ({"valkey.shards": "2"}, "valkey.shards", "cluster_mode"),
        ({"valkey.replicas_per_shard": "0"}, "valkey.multi_az", "replicas_per_shard >= 1"),
        ({"valkey.auth": "none"}, "valkey.auth", "iam, password"),
        ({"valkey.node_type": "r7g.large"}, "valkey.node_type", "cache.t4g.micro"),
        ({"valkey.access_string": "~* +@all"}, "valkey.access_string", "starts with 'on'"),
        ({"mysql.engine_version": "8.0.40"}, "mysql.engine_version", "8.4 or 9.7 (RDS picks"),
        (
            {"mysql.max_allocated_storage_gib": "20", "mysql.allocated_storage_gib": "30"},
            "mysql.max_allocated_storage_gib",
            ">= allocated_storage_gib",
        ),
        ({"mysql.cloudwatch_logs": "error,audit"}, "mysql.cloudwatch_logs", "slowquery"),
        ({"functions.api_timeout_seconds": "60"}, "functions.api_timeout_seconds", "1 to 29"),
        ({"functions.log_retention_days": "10"}, "functions.log_retention_days", "14"),
        ({"functions.log_level": "TRACE"}, "functions.log_level", "DEBUG"),
        ({"network.cidr": "10.0.0.0/24"}, "network.cidr", "/16 to /18"),
        ({"network.availability_zones": "us-east-1a"}, "network.availability_zones", "2 to 6"),
        (
            {"network.availability_zones": "us-west-2a,us-west-2b"},
            "network.availability_zones",
            "zones of the region",
        ),
        ({"network.nat_gateways": "3"}, "network.nat_gateways", "at most one per zone"),
        ({"monitoring.alarm_email": "not-an-email"}, "monitoring.alarm_email", "e-mail"),
        ({"removal_policy": "keep"}, "removal_policy", "destroy or snapshot"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(
    overrides: dict[str, str], key: str, allowed: str
) -> None:
    message = error_for(**overrides)
    assert f"'{key}'" in message or f".{key}'" in message
    assert allowed in message


def test_unknown_keys_are_typos_and_fail() -> None:
    context = cdk_context()
    context["environments"]["dev"]["valkey"]["maxmemory_polcy"] = "allkeys-lru"
    with pytest.raises(ConfigError) as caught:
        load_config(context)
    assert "'environments.dev.valkey.maxmemory_polcy': unknown key" in str(caught.value)
    assert "maxmemory_policy" in str(caught.value)


def test_settings_accept_only_tunable_contract_names() -> None:
    context = cdk_context()
    context["environments"]["dev"]["functions"]["settings"] = {"TTL_PRODUCT": 600}
    assert load_config(context).functions.settings == {"TTL_PRODUCT": "600"}
    context["environments"]["dev"]["functions"]["settings"] = {"VALKEY_HOST": "elsewhere"}
    with pytest.raises(ConfigError) as caught:
        load_config(context)
    assert "functions.settings.VALKEY_HOST" in str(caught.value)
    assert "TTL_PRODUCT" in str(caught.value)


def test_missing_region_is_reported() -> None:
    context = cdk_context()
    del context["environments"]["dev"]["region"]
    with pytest.raises(
        ConfigError, match=r"environments\.dev\.region': expected an AWS region name.*got missing"
    ):
        load_config(context)


@pytest.mark.parametrize(("raw", "expected"), [(True, True), ("false", False), ("TRUE", True)])
def test_bundle_flag(raw: object, expected: bool) -> None:
    assert read_flag({"bundle": raw}, "bundle", default=True) is expected


def test_bad_bundle_flag_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"'bundle'.*true or false"):
        read_flag({"bundle": "maybe"}, "bundle", default=True)


@pytest.mark.parametrize("key", ["valkey.shardz", "functions.log_levle", "api.throttle"])
def test_a_misspelt_override_is_refused_naming_the_keys_there_are(key: str) -> None:
    """The docs promise that typos are rejected: a key in a section's namespace that the
    section lacks was silently ignored, and the deploy went ahead without it."""
    message = error_for(**{key: "2"})
    assert f"context key '{key}'" in message and "no such setting" in message
    assert f"{key.split('.', maxsplit=1)[0]}." in message.split("expected", 1)[1]


def test_cdk_s_own_context_keys_are_not_overrides() -> None:
    context = cdk_context(**{"@aws-cdk/core:newStyleStackSynthesis": True,
                             "aws:cdk:enable-path-metadata": True, "bundle": "false"})
    assert load_config(context).env_name == "dev"
