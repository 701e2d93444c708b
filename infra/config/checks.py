"""Checks across fields: values each valid alone that make no deployable environment.

Each names the context key to change (``key_of`` turns ``valkey.shards`` into the key
the user typed: the ``-c`` override, or its path in ``cdk.json``).
"""

from __future__ import annotations

from collections.abc import Callable

from infra.config.sections import AppConfig
from lambda_app.config_types import ConfigError

KeyOf = Callable[[str], str]
#: (broken?, the key to change, what is wrong, what it accepts)
Rule = tuple[bool, str, str, str]


def check_combinations(config: AppConfig, key_of: KeyOf) -> None:
    """Raise for the first rule ``config`` breaks, naming the key to change."""
    for broken, key, reason, expected in _rules(config):
        if broken:
            raise ConfigError(key_of(key), None, expected, reason=reason, context_key=True)


def _rules(config: AppConfig) -> list[Rule]:
    network, valkey, mysql = config.network, config.valkey, config.mysql
    zones = network.availability_zones
    foreign = [zone for zone in zones if not zone.startswith(config.region)]
    monitoring = config.monitoring
    return [
        (not 2 <= len(zones) <= 6 or len(set(zones)) != len(zones),
         "network.availability_zones", f"got {list(zones)}",
         "2 to 6 distinct zones of the region"),
        (bool(foreign), "network.availability_zones",
         f"{foreign} not in region {config.region}", "zones of the region"),
        (network.nat_gateways > len(zones), "network.nat_gateways",
         f"{network.nat_gateways} NAT gateways for {len(zones)} zones", "at most one per zone"),
        (valkey.multi_az and valkey.replicas_per_shard < 1, "valkey.multi_az",
         "Multi-AZ needs a replica (replicas_per_shard is 0)",
         "false, or replicas_per_shard >= 1"),
        (not valkey.cluster_mode and valkey.shards != 1, "valkey.shards",
         f"{valkey.shards} shards with cluster_mode false",
         "1 when cluster_mode is false (set cluster_mode true to shard)"),
        (mysql.max_allocated_storage_gib < mysql.allocated_storage_gib,
         "mysql.max_allocated_storage_gib",
         f"{mysql.max_allocated_storage_gib} < {mysql.allocated_storage_gib}",
         "a value >= allocated_storage_gib"),
        # Alarms that reach nobody are worse than none: they look like monitoring.
        (config.termination_protection and not monitoring.alarm_email
         and not monitoring.allow_no_subscriber,
         "monitoring.alarm_email", "missing",
         "an e-mail address for the alarm topic (-c monitoring.alarm_email=you@example.com); "
         "this environment is protected, so its alarms must reach someone "
         "(or set monitoring.allow_no_subscriber: true)"),
    ]
