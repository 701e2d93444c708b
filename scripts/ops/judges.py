"""Pure verdicts on AWS describe-call results: one function per rule of the scorecard.

Each judge takes the plain dicts boto3 returns (or a small derived value) and says
PASS/FAIL with the observed value, so the rules are unit-tested without AWS and the
readers in ``inventory`` stay dumb.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_app.flags import parse_flag

Facts = Mapping[str, Any]

MIN_VALKEY_VERSION = (8, 0)
DEFAULT_POLICY = "allkeys-lfu"
DEFAULT_AUTH = "none"
#: Metric namespaces an alarm must watch, by what they watch.
ALARM_NAMESPACES = {
    "cache": ("AWS/ElastiCache",),
    "database": ("AWS/RDS",),
    "api or functions": ("AWS/Lambda", "AWS/ApiGateway"),
}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str


def version_tuple(text: str) -> tuple[int, ...]:
    """``"8.0.1"`` -> ``(8, 0, 1)``; ``"v20.1"`` -> ``(20, 1)``; no digits -> ``()``."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("(", maxsplit=1)[0])[:3])


def cache_engine(group: Facts, cluster: Facts) -> Verdict:
    engine = group.get("Engine") or cluster.get("Engine")
    return Verdict(engine == "valkey", f"engine {engine or 'unknown'}")


def cache_version(cluster: Facts, minimum: tuple[int, ...] = MIN_VALKEY_VERSION) -> Verdict:
    text = str(cluster.get("EngineVersion") or "")
    wanted = ".".join(map(str, minimum))
    if not text:
        return Verdict(False, "engine version not reported")
    return Verdict(version_tuple(text) >= minimum, f"version {text} (want >= {wanted})")


def parameter_family(group: Facts, engine_version: str) -> Verdict:
    """A custom group whose family matches the engine's major version (``valkey8``)."""
    family = str(group.get("CacheParameterGroupFamily") or "")
    name = str(group.get("CacheParameterGroupName") or "")
    major = version_tuple(engine_version)[:1]
    wanted = f"valkey{major[0]}" if major else "valkeyN"
    if name.startswith("default."):
        return Verdict(False, f"default group {name} cannot set maxmemory-policy")
    return Verdict(family == wanted, f"group {name} family {family or 'unknown'} (want {wanted})")


def maxmemory_policy(parameters: Mapping[str, str], expected: str) -> Verdict:
    value = parameters.get("maxmemory-policy")
    if value is None:
        return Verdict(False, "maxmemory-policy not in the parameter group")
    if value == "noeviction":
        return Verdict(False, "noeviction: writes fail when memory is full, a cache must evict")
    return Verdict(value == expected, f"{value} (the functions expect {expected})")


def multi_az(group: Facts) -> Verdict:
    az, failover = group.get("MultiAZ"), group.get("AutomaticFailover")
    ok = az == "enabled" and failover == "enabled"
    return Verdict(ok, f"Multi-AZ {az or 'unknown'}, automatic failover {failover or 'unknown'}")


def cache_tls(group: Facts) -> Verdict:
    enabled = group.get("TransitEncryptionEnabled") is True
    mode = group.get("TransitEncryptionMode")
    if not enabled:
        return Verdict(False, "in-transit encryption off")
    if mode not in (None, "required"):
        return Verdict(False, f"TLS mode {mode}: plaintext clients still accepted")
    return Verdict(True, f"TLS on, mode {mode or 'required'}")


def cache_at_rest(group: Facts) -> Verdict:
    on = group.get("AtRestEncryptionEnabled") is True
    return Verdict(on, "encrypted at rest" if on else "not encrypted at rest")


def cache_auth(group: Facts, expected: str) -> Verdict:
    """Clients must authenticate, the way the functions are configured to."""
    user_groups = list(group.get("UserGroupIds") or [])
    token = group.get("AuthTokenEnabled") is True
    have = (
        f"user groups {','.join(user_groups)}" if user_groups else ("AUTH token" if token else "")
    )
    if not have:
        return Verdict(False, "no authentication: any client in the VPC may connect")
    ok = (expected == "iam" and bool(user_groups)) or (
        expected == "password" and (token or bool(user_groups))
    )
    return Verdict(ok, f"{have}; functions use VALKEY_AUTH={expected}")


def db_engine(instance: Facts) -> Verdict:
    engine = instance.get("Engine")
    version = instance.get("EngineVersion", "")
    return Verdict(engine == "mysql", f"engine {engine or 'unknown'} {version}".rstrip())


def db_private(instance: Facts) -> Verdict:
    public = instance.get("PubliclyAccessible")
    return Verdict(public is False, "publicly accessible" if public else "private")


def db_encrypted(instance: Facts) -> Verdict:
    on = instance.get("StorageEncrypted") is True
    return Verdict(on, "storage encrypted" if on else "storage NOT encrypted")


def db_tls(parameters: Mapping[str, str]) -> Verdict:
    value = parameters.get("require_secure_transport")
    ok = parse_flag(str(value)) is True
    return Verdict(
        ok, f"require_secure_transport={value if value is not None else 'default (off)'}"
    )


def functions_in_vpc(
    functions: Sequence[Facts], subnet_vpcs: Mapping[str, str], data_vpc: str | None
) -> Verdict:
    """Every project function has subnets and security groups in the data stores' VPC."""
    outside: list[str] = []
    for fn in functions:
        config = fn.get("VpcConfig") or {}
        vpcs = {subnet_vpcs.get(s, "?") for s in config.get("SubnetIds") or []}
        in_vpc = bool(vpcs) and bool(config.get("SecurityGroupIds"))
        if not in_vpc or (data_vpc is not None and vpcs != {data_vpc}):
            outside.append(str(fn.get("FunctionName")))
    if not functions:
        return Verdict(False, "no project functions found")
    if outside:
        return Verdict(False, f"not in the data VPC: {', '.join(sorted(outside))}")
    return Verdict(True, f"{len(functions)} functions in {data_vpc or 'a VPC'}")


def function_security_groups(functions: Iterable[Facts]) -> set[str]:
    return {
        sg for fn in functions for sg in (fn.get("VpcConfig") or {}).get("SecurityGroupIds") or []
    }


def admits_only(groups: Sequence[Facts], allowed: set[str]) -> Verdict:
    """Inbound rules reference only the functions' groups: no CIDR, prefix list or other SG."""
    if not groups:
        return Verdict(False, "no security groups attached")
    strays: list[str] = []
    admitted: set[str] = set()
    for group in groups:
        for rule in group.get("IpPermissions") or []:
            strays += [r.get("CidrIp", "?") for r in rule.get("IpRanges") or []]
            strays += [r.get("CidrIpv6", "?") for r in rule.get("Ipv6Ranges") or []]
            strays += [r.get("PrefixListId", "?") for r in rule.get("PrefixListIds") or []]
            for pair in rule.get("UserIdGroupPairs") or []:
                source = str(pair.get("GroupId"))
                if source in allowed:
                    admitted.add(source)
                else:
                    strays.append(source)
    if strays:
        return Verdict(False, f"also admits {', '.join(sorted(set(strays)))}")
    if not admitted:
        return Verdict(False, "admits nobody, not even the functions")
    return Verdict(True, f"admits only {', '.join(sorted(admitted))}")


def _alarm_namespaces(alarm: Facts) -> set[str]:
    found = {str(alarm["Namespace"])} if alarm.get("Namespace") else set()
    for query in alarm.get("Metrics") or []:
        namespace = ((query.get("MetricStat") or {}).get("Metric") or {}).get("Namespace")
        if namespace:
            found.add(str(namespace))
    return found


def alarms_cover(alarms: Sequence[Facts]) -> Verdict:
    """At least one alarm on the cache, the database, and the API or its functions."""
    watched = set().union(*(_alarm_namespaces(a) for a in alarms)) if alarms else set()
    missing = [what for what, spaces in ALARM_NAMESPACES.items() if not watched & set(spaces)]
    if missing:
        return Verdict(False, f"{len(alarms)} alarms; none on {', '.join(missing)}")
    return Verdict(True, f"{len(alarms)} alarms cover cache, database and API")


def api_health(status: int, body: Any) -> Verdict:
    if status == 200 and isinstance(body, dict) and body.get("cache") == body.get("db") == "ok":
        return Verdict(True, "GET /health -> 200, cache ok, db ok")
    return Verdict(False, f"GET /health -> {status} {body}")


def expected_setting(functions: Sequence[Facts], name: str, default: str) -> str:
    """A setting as the functions see it (first one that sets it), else the default."""
    for fn in functions:
        value = ((fn.get("Environment") or {}).get("Variables") or {}).get(name)
        if value:
            return str(value)
    return default


def alarm_subscriber(subscriptions: Sequence[Facts]) -> Verdict:
    """Somebody confirmed a subscription to the alarm topic."""
    confirmed = [s for s in subscriptions
                 if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    pending = len(subscriptions) - len(confirmed)
    if confirmed:
        who = ", ".join(sorted(str(s.get("Endpoint", "?")) for s in confirmed))
        return Verdict(True, f"confirmed: {who}")
    if pending:
        return Verdict(False, f"{pending} subscription(s) pending confirmation: nobody gets "
                              "alarms until the e-mail link is clicked")
    return Verdict(False, "the alarm topic has no subscription: alarms reach nobody")


def metrics_flowing(counts: Mapping[str, int]) -> Verdict:
    """Every app metric the dashboard graphs has datapoints (run ``ops smoke`` first)."""
    if not counts:
        return Verdict(False, "the dashboard graphs none of the app's metrics")
    empty = sorted(name for name, count in counts.items() if count == 0)
    if empty:
        return Verdict(False, f"{len(empty)} of {len(counts)} graphed metrics have no data "
                              f"(after ops smoke?): {', '.join(empty[:4])}")
    return Verdict(True, f"all {len(counts)} graphed app metrics have datapoints")


def api_auth(unsigned: int, signed: int) -> Verdict:
    """An operator route refuses an unsigned request and serves a signed one."""
    ok = unsigned in (401, 403) and 200 <= signed < 300
    return Verdict(ok, f"unsigned -> {unsigned}, signed -> {signed}")


def schema_current(deployed: int, latest: int) -> Verdict:
    ok = deployed >= latest
    return Verdict(ok, f"schema version {deployed}" + ("" if ok else f", this code needs {latest}"))
