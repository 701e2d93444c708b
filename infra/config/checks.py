"""Checks across fields: values each valid alone that make no deployable environment.

Each names the context key to change (``key_of`` turns ``valkey.shards`` into the key
the user typed: the ``-c`` override, or its path in ``cdk.json``).
"""

from __future__ import annotations

from collections.abc import Callable

from infra.config.sections import AppConfig
from lambda_app.clients.errors import ConfigError

KeyOf = Callable[[str], str]


def check_combinations(config: AppConfig, key_of: KeyOf) -> None:
    for check in (_zones, _valkey, _storage, _subscriber):
        check(config, key_of)


def _problem(key: str, reason: str, expected: str) -> ConfigError:
    return ConfigError(key, None, expected, reason=reason, context_key=True)


def _zones(config: AppConfig, key_of: KeyOf) -> None:
    zones = config.network.availability_zones
    key = key_of("network.availability_zones")
    if not 2 <= len(zones) <= 6 or len(set(zones)) != len(zones):
        raise _problem(key, f"got {list(zones)}", "2 to 6 distinct zones of the region")
    wrong = [z for z in zones if not z.startswith(config.region)]
    if wrong:
        raise _problem(key, f"{wrong} not in region {config.region}", "zones of the region")
    if config.network.nat_gateways > len(zones):
        raise _problem(
            key_of("network.nat_gateways"),
            f"{config.network.nat_gateways} NAT gateways for {len(zones)} zones",
            "at most one per zone",
        )


def _valkey(config: AppConfig, key_of: KeyOf) -> None:
    valkey = config.valkey
    if valkey.multi_az and valkey.replicas_per_shard < 1:
        raise _problem(
            key_of("valkey.multi_az"),
            "Multi-AZ needs a replica (replicas_per_shard is 0)",
            "false, or replicas_per_shard >= 1",
        )
    if not valkey.cluster_mode and valkey.shards != 1:
        raise _problem(
            key_of("valkey.shards"),
            f"{valkey.shards} shards with cluster_mode false",
            "1 when cluster_mode is false (set cluster_mode true to shard)",
        )


def _storage(config: AppConfig, key_of: KeyOf) -> None:
    mysql = config.mysql
    if mysql.max_allocated_storage_gib < mysql.allocated_storage_gib:
        raise _problem(
            key_of("mysql.max_allocated_storage_gib"),
            f"{mysql.max_allocated_storage_gib} < {mysql.allocated_storage_gib}",
            "a value >= allocated_storage_gib",
        )


def _subscriber(config: AppConfig, key_of: KeyOf) -> None:
    """Alarms that reach nobody are worse than none: they look like monitoring."""
    watched = config.monitoring
    if (
        config.termination_protection
        and not watched.alarm_email
        and not (watched.allow_no_subscriber)
    ):
        raise _problem(
            key_of("monitoring.alarm_email"),
            "missing",
            "an e-mail address for the alarm topic (-c monitoring.alarm_email=you@example.com); "
            "this environment is protected, so its alarms must reach someone "
            "(or set monitoring.allow_no_subscriber: true)",
        )
