"""The one reader of CDK context: environments in ``cdk.json`` -> a frozen, validated config.

Why one module: every other infra module receives typed values and never calls
``try_get_context``, so a typo or an out-of-range value fails here, before any construct
is built, with a message that names the context key and what it accepts.

Layout of the context (``cdk.json``)::

    "env": "dev",                       # which environment to synthesize (-c env=prod)
    "bundle": true,                     # false: plain source asset, no pip (tests, synth)
    "environments": {"dev": {...}, "prod": {...}}

Each environment has the sections ``network``, ``valkey``, ``mysql``, ``functions``,
``api`` and ``monitoring`` plus a few top-level keys. Any leaf can be overridden for one
run with a dotted context key, e.g. ``-c valkey.maxmemory_policy=allkeys-lru``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lambda_app import metric_names
from lambda_app.caching.storage import HASH_MAX_LISTPACK_VALUE
from lambda_app.flags import parse_flag
from lambda_app.settings import MAXMEMORY_POLICIES

T = TypeVar("T")

#: The eight eviction policies Valkey accepts for ``maxmemory-policy`` (the runtime's
#: list: the stack and the functions' ``CACHE_MAXMEMORY_POLICY`` accept the same).
EVICTION_POLICIES = MAXMEMORY_POLICIES
#: ElastiCache Valkey engine versions this project supports -> parameter group family.
#: Every version ElastiCache offers for node-based Valkey (2026-12).
VALKEY_ENGINE_FAMILIES = {
    "7.2": "valkey7",
    "8.0": "valkey8",
    "8.1": "valkey8",
    "8.2": "valkey8",
    "9.0": "valkey9",
    "9.1": "valkey9",
}
#: Retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
MYSQL_LOG_TYPES = ("error", "general", "slowquery", "iam-db-auth-error")
RDS_MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: What happens to the cache, the database and their keys when the data stack is deleted.
REMOVAL_POLICIES = ("destroy", "snapshot", "retain")
#: Settings-contract variables an environment may set through ``functions.settings``;
#: the connection variables are derived from the resources and cannot be overridden.
TUNABLE_SETTINGS = (
    "CACHE_PREFIX",
    "TTL_STATIC",
    "TTL_PRODUCT",
    "TTL_USER",
    "TTL_PRICE",
    "TTL_SESSION",
    "TTL_CONFIG",
    "TTL_QUERY",
    "TTL_DASHBOARD",
    "CACHE_TTL_JITTER",
    "CACHE_NEGATIVE_TTL",
    "CACHE_MAX_VALUE_BYTES",
    "CACHE_LARGE_VALUES",
    "NEAR_CACHE_CLASSES",
    "NEAR_CACHE_SIZE",
    "CACHE_BREAKER_FAILURES",
    "CACHE_BREAKER_COOLDOWN",
    "VALKEY_CONNECT_TIMEOUT",
    "VALKEY_TIMEOUT",
    "VALKEY_RETRIES",
    "DB_CONNECT_TIMEOUT",
    "DB_READ_TIMEOUT",
    "DB_WRITE_TIMEOUT",
)
#: Data classes the dashboard graphs the app's per-class EMF metrics for.
METRIC_DATA_CLASSES = metric_names.GRAPHED_DATA_CLASSES

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_CIDR = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")
_WINDOW_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_SNAPSHOT_WINDOW = re.compile(rf"^{_WINDOW_TIME}-{_WINDOW_TIME}$")
_MAINTENANCE_WINDOW = re.compile(rf"^{_DAY}:{_WINDOW_TIME}-{_DAY}:{_WINDOW_TIME}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DB_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_METRIC_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
_NULL = ("", "null", "none")
_SECTIONS = ("network", "valkey", "mysql", "functions", "api", "monitoring")


class ConfigError(ValueError):
    """A context value is missing or invalid; the message names the key and what it accepts."""

    def __init__(self, key: str, problem: str, allowed: str) -> None:
        super().__init__(f"context key '{key}': {problem}; allowed: {allowed}")
        self.key = key


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: int
    flow_log_retention_days: int


@dataclass(frozen=True)
class ValkeyConfig:
    engine_version: str
    node_type: str
    port: int
    maxmemory_policy: str
    #: Bytes a hash field may hold and the hash stay a compact listpack.
    hash_max_listpack_value: int
    maxmemory_samples: int | None
    lfu_log_factor: int | None
    lfu_decay_time: int | None
    cluster_mode: bool
    shards: int
    replicas_per_shard: int
    multi_az: bool
    auth: str
    access_string: str
    snapshot_retention_days: int
    snapshot_window: str
    maintenance_window: str
    slow_log: bool
    log_retention_days: int

    @property
    def parameter_group_family(self) -> str:
        return VALKEY_ENGINE_FAMILIES[self.engine_version]

    @property
    def nodes_per_shard(self) -> int:
        return 1 + self.replicas_per_shard


@dataclass(frozen=True)
class MysqlConfig:
    engine_version: str
    instance_type: str
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    multi_az: bool
    database_name: str
    master_username: str
    port: int
    backup_retention_days: int
    deletion_protection: bool
    proxy: bool
    cloudwatch_logs: tuple[str, ...]
    log_retention_days: int
    monitoring_interval_seconds: int
    ca_bundle_url: str


@dataclass(frozen=True)
class FunctionsConfig:
    memory_mb: int
    api_timeout_seconds: int
    warmer_timeout_seconds: int
    migrate_timeout_seconds: int
    api_reserved_concurrency: int | None
    #: SnapStart for the API function: restores from a snapshot taken after init (imports,
    #: settings) instead of running it; the API is then invoked through its ``live`` alias.
    api_snapstart: bool
    warmer_reserved_concurrency: int | None
    migrate_reserved_concurrency: int | None
    warmer_rate_minutes: int
    log_retention_days: int
    log_level: str
    tracing: bool
    service_name: str
    metrics_namespace: str
    rate_limit_requests: int
    rate_limit_window_seconds: int
    rate_limit_algorithm: str
    settings: Mapping[str, str]


@dataclass(frozen=True)
class ApiConfig:
    throttle_rate_limit: int
    throttle_burst_limit: int
    access_log_retention_days: int
    #: ``iam``: operator routes need SigV4 (the default); ``open``: anyone may write, for a
    #: throwaway workshop environment only (synth warns).
    auth: str = "iam"


@dataclass(frozen=True)
class MonitoringConfig:
    alarm_email: str | None
    #: An environment with termination protection must notify someone: without an
    #: ``alarm_email`` its synth fails unless this says silence is intended.
    allow_no_subscriber: bool
    cache_cpu_percent: int
    #: Keys evicted per 5 minutes (max over nodes) above which the cache is too small
    #: for its working set; a full cache that evicts a little is the design.
    cache_evictions: int
    cache_connections: int
    #: The app's hit ratio (%) below which reads mostly reach MySQL, counted only over
    #: periods with at least ``hit_ratio_min_reads`` cached reads.
    hit_ratio_percent: int
    hit_ratio_min_reads: int
    api_p99_ms: int
    replication_lag_seconds: int
    db_cpu_percent: int
    db_free_storage_gib: int
    function_errors: int


@dataclass(frozen=True)
class AppConfig:
    """Everything one environment deploys, typed; built only by :func:`load_config`."""

    env_name: str
    project: str
    account: str | None
    region: str
    termination_protection: bool
    removal_policy: str
    network: NetworkConfig
    valkey: ValkeyConfig
    mysql: MysqlConfig
    functions: FunctionsConfig
    api: ApiConfig
    monitoring: MonitoringConfig

    @property
    def prefix(self) -> str:
        """Physical-name prefix, e.g. ``valkey-caching-dev`` (lowercase: ElastiCache ids)."""
        return f"{self.project}-{self.env_name}"

    def stack_name(self, part: str) -> str:
        return f"{self.prefix}-{part}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every resource; the Secrets Manager endpoint admits this app's secrets
        by them."""
        return {"project": self.project, "environment": self.env_name}


class _Section:
    """Typed reads of one section; remembers which keys were read to reject unknown ones."""

    def __init__(self, path: str, values: Any, overrides: Mapping[str, Any], local: str) -> None:
        if not isinstance(values, Mapping):
            raise ConfigError(path, f"expected an object, got {values!r}", "a JSON object")
        self._path = path
        self._local = local
        self._values = values
        self._overrides = overrides
        self._read: set[str] = set()

    def section(self, name: str) -> _Section:
        """The nested section ``name`` (absent -> empty, so every key takes its default)."""
        self._read.add(name)
        return _Section(f"{self._path}.{name}", self._values.get(name) or {}, self._overrides, name)

    def key_of(self, name: str) -> str:
        """The context key a value was read from, for error messages about combinations."""
        return self._key(name)[0]

    def _key(self, name: str) -> tuple[str, Any, bool]:
        """(key to report, raw value, whether it came from a -c override)."""
        self._read.add(name)
        override_key = f"{self._local}.{name}" if self._local else name
        if override_key in self._overrides:
            return override_key, self._overrides[override_key], True
        return f"{self._path}.{name}", self._values.get(name), False

    def _get(
        self,
        name: str,
        default: T,
        parse: Callable[[str, Any, bool], T],
        *,
        required: str | None = None,
    ) -> T:
        """``required``: what the key accepts, for a key that has no default."""
        key, raw, from_cli = self._key(name)
        if raw is None and not from_cli:
            if required is not None:
                raise ConfigError(key, "missing", required)
            return default
        return parse(key, raw, from_cli)

    def text(
        self,
        name: str,
        default: str = "",
        *,
        pattern: re.Pattern[str],
        allowed: str,
        required: bool = False,
    ) -> str:
        def parse(key: str, raw: Any, _cli: bool) -> str:
            if not isinstance(raw, str) or not pattern.match(raw):
                raise ConfigError(key, f"invalid value {raw!r}", allowed)
            return raw

        return self._get(name, default, parse, required=allowed if required else None)

    def optional_text(self, name: str, *, pattern: re.Pattern[str], allowed: str) -> str | None:
        def parse(key: str, raw: Any, cli: bool) -> str | None:
            if cli and str(raw).strip().lower() in _NULL:
                return None
            if not isinstance(raw, str) or not pattern.match(raw):
                raise ConfigError(key, f"invalid value {raw!r}", allowed)
            return raw

        return self._get(name, None, parse)

    def choice(self, name: str, default: T, allowed: tuple[T, ...]) -> T:
        def parse(key: str, raw: Any, cli: bool) -> T:
            for option in allowed:
                if raw == option or (cli and str(raw) == str(option)):
                    return option
            raise ConfigError(
                key, f"unknown value {raw!r}", "one of " + ", ".join(str(a) for a in allowed)
            )

        return self._get(name, default, parse)

    def flag(self, name: str, default: bool) -> bool:
        return self._get(name, default, lambda key, raw, _cli: _parse_flag(key, raw))

    def whole(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.optional_whole(name, minimum=minimum, maximum=maximum, nullable=False)
        return default if value is None else value

    def optional_whole(
        self, name: str, *, minimum: int, maximum: int, nullable: bool = True
    ) -> int | None:
        allowed = f"a whole number from {minimum} to {maximum}" + (
            " (or null to leave unset)" if nullable else ""
        )

        def parse(key: str, raw: Any, cli: bool) -> int | None:
            if cli and isinstance(raw, str):
                if nullable and raw.strip().lower() in _NULL:
                    return None
                raw = int(raw) if re.fullmatch(r"-?\d+", raw.strip()) else raw
            if isinstance(raw, bool) or not isinstance(raw, int) or not (minimum <= raw <= maximum):
                raise ConfigError(key, f"invalid value {raw!r}", allowed)
            return raw

        return self._get(name, None, parse)

    def text_list(
        self, name: str, default: tuple[str, ...], *, item: Callable[[str, str], str]
    ) -> tuple[str, ...]:
        def parse(key: str, raw: Any, cli: bool) -> tuple[str, ...]:
            if cli and isinstance(raw, str):
                raw = [part.strip() for part in raw.split(",") if part.strip()]
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise ConfigError(key, f"invalid value {raw!r}", "a list of strings")
            return tuple(item(key, v) for v in raw)

        return self._get(name, default, parse)

    def mapping(self, name: str, *, allowed_keys: tuple[str, ...]) -> dict[str, str]:
        key, raw, _cli = self._key(name)
        if raw is None:
            return {}
        allowed = "an object whose keys are " + ", ".join(allowed_keys)
        if not isinstance(raw, Mapping):
            raise ConfigError(key, f"invalid value {raw!r}", allowed)
        result: dict[str, str] = {}
        for variable, value in raw.items():
            if variable not in allowed_keys:
                raise ConfigError(f"{key}.{variable}", "unknown setting", allowed)
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ConfigError(f"{key}.{variable}", f"invalid value {value!r}", "a scalar")
            result[variable] = str(value)
        return result

    def reject_unknown(self) -> None:
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise ConfigError(
                f"{self._path}.{unknown[0]}", "unknown key", ", ".join(sorted(self._read))
            )


def load_config(context: Mapping[str, Any]) -> AppConfig:
    """Build the config of the environment named by context ``env`` (default ``dev``).

    ``context`` is the merged CDK context: ``cdk.json`` plus ``-c`` values (strings).
    """
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            "environments", "missing or empty", "an object of environments (see cdk.json)"
        )
    env_name = context.get("env", "dev")
    if not isinstance(env_name, str) or env_name not in environments:
        raise ConfigError(
            "env", f"unknown environment {env_name!r}", ", ".join(sorted(environments))
        )
    if not _NAME.match(env_name) or len(env_name) > 8:
        raise ConfigError(
            f"environments.{env_name}",
            "invalid environment name",
            "lowercase letters and digits, up to 8 characters",
        )
    # ``-c valkey.shards=3`` or ``-c removal_policy=retain``: only keys the config reads
    # are looked up, so CDK's own context entries are never mistaken for overrides.
    overrides = {k: v for k, v in context.items() if k not in ("env", "environments")}
    path = f"environments.{env_name}"
    top = _Section(path, environments[env_name], overrides, "")
    sections = {name: top.section(name) for name in _SECTIONS}
    project = top.text(
        "project",
        "valkey-caching",
        pattern=_NAME,
        allowed="lowercase letters, digits and single hyphens, starting with a letter",
    )
    if len(project) > 20:
        # ElastiCache ids are <project>-<env>-<suffix> and must stay within 40 characters.
        raise ConfigError(top.key_of("project"), "longer than 20 characters", "up to 20")
    config = AppConfig(
        env_name=env_name,
        project=project,
        account=top.optional_text("account", pattern=_ACCOUNT, allowed="a 12-digit account id"),
        region=top.text(
            "region",
            pattern=_REGION,
            allowed="an AWS region name, e.g. us-east-1",
            required=True,
        ),
        termination_protection=top.flag("termination_protection", False),
        removal_policy=top.choice("removal_policy", "destroy", REMOVAL_POLICIES),
        network=_network(sections["network"]),
        valkey=_valkey(sections["valkey"]),
        mysql=_mysql(sections["mysql"]),
        functions=_functions(sections["functions"]),
        api=_api(sections["api"]),
        monitoring=_monitoring(sections["monitoring"]),
    )
    for section in (top, *sections.values()):
        section.reject_unknown()
    network = sections["network"]
    _check_zones(config, network.key_of("availability_zones"), network.key_of("nat_gateways"))
    _check_subscriber(config, sections["monitoring"])
    return config


def _check_subscriber(config: AppConfig, monitoring: _Section) -> None:
    """Alarms that reach nobody are worse than none: they look like monitoring."""
    watched = config.monitoring
    if config.termination_protection and not watched.alarm_email and not (
        watched.allow_no_subscriber
    ):
        raise ConfigError(
            monitoring.key_of("alarm_email"),
            "missing",
            "an e-mail address for the alarm topic (-c monitoring.alarm_email=you@example.com); "
            "this environment is protected, so its alarms must reach someone "
            "(or set monitoring.allow_no_subscriber: true)",
        )


def _network(s: _Section) -> NetworkConfig:
    def az(key: str, value: str) -> str:
        if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d[a-z]", value):
            raise ConfigError(key, f"invalid zone {value!r}", "zone names such as us-east-1a")
        return value

    # /16../18 leaves room for a /22 function subnet and two /24s in each of up to 6 zones.
    allowed = "a private IPv4 CIDR with a /16 to /18 prefix, e.g. 10.40.0.0/16"
    cidr = s.text("cidr", "10.40.0.0/16", pattern=_CIDR, allowed=allowed)
    octets, prefix = cidr.split("/")
    if not 16 <= int(prefix) <= 18 or any(int(o) > 255 for o in octets.split(".")):
        raise ConfigError(s.key_of("cidr"), f"invalid value {cidr!r}", allowed)
    return NetworkConfig(
        cidr=cidr,
        availability_zones=s.text_list("availability_zones", (), item=az),
        nat_gateways=s.whole("nat_gateways", 0, minimum=0, maximum=3),
        flow_log_retention_days=s.choice("flow_log_retention_days", 30, LOG_RETENTION_DAYS),
    )


def _check_zones(config: AppConfig, key: str, nat_key: str) -> None:
    zones = config.network.availability_zones
    if not 2 <= len(zones) <= 6 or len(set(zones)) != len(zones):
        raise ConfigError(key, f"got {list(zones)}", "2 to 6 distinct zones of the region")
    wrong = [z for z in zones if not z.startswith(config.region)]
    if wrong:
        raise ConfigError(key, f"{wrong} not in region {config.region}", "zones of the region")
    if config.network.nat_gateways > len(zones):
        raise ConfigError(
            nat_key,
            f"{config.network.nat_gateways} NAT gateways for {len(zones)} zones",
            "at most one per zone",
        )


def _valkey(s: _Section) -> ValkeyConfig:
    cluster_mode = s.flag("cluster_mode", False)
    shards = s.whole("shards", 1, minimum=1, maximum=500)
    replicas = s.whole("replicas_per_shard", 1, minimum=0, maximum=5)
    multi_az = s.flag("multi_az", True)
    config = ValkeyConfig(
        engine_version=s.choice("engine_version", "8.0", tuple(VALKEY_ENGINE_FAMILIES)),
        node_type=s.text(
            "node_type",
            "cache.t4g.micro",
            pattern=re.compile(r"^cache\.[a-z0-9]+\.[a-z0-9]+$"),
            allowed="an ElastiCache node type such as cache.t4g.micro or cache.r7g.large",
        ),
        port=s.whole("port", 6379, minimum=1024, maximum=65535),
        maxmemory_policy=s.choice("maxmemory_policy", "allkeys-lfu", EVICTION_POLICIES),
        hash_max_listpack_value=s.whole(
            "hash_max_listpack_value", HASH_MAX_LISTPACK_VALUE, minimum=64, maximum=8192
        ),
        maxmemory_samples=s.optional_whole("maxmemory_samples", minimum=1, maximum=64),
        lfu_log_factor=s.optional_whole("lfu_log_factor", minimum=0, maximum=255),
        lfu_decay_time=s.optional_whole("lfu_decay_time", minimum=0, maximum=1440),
        cluster_mode=cluster_mode,
        shards=shards,
        replicas_per_shard=replicas,
        multi_az=multi_az,
        auth=s.choice("auth", "iam", ("iam", "password")),
        # Every key and channel (pub/sub invalidation), minus keyspace-wide commands the
        # app never needs. ElastiCache rejects its own restricted commands (CONFIG, DEBUG...)
        # in access strings, so they are not listed; they are unavailable anyway.
        access_string=s.text(
            "access_string",
            "on ~* &* +@all -flushall -flushdb -keys",
            pattern=re.compile(r"^on( \S+)+$"),
            allowed="a Valkey ACL access string that starts with 'on', e.g. 'on ~* &* +@all'",
        ),
        snapshot_retention_days=s.whole("snapshot_retention_days", 1, minimum=0, maximum=35),
        snapshot_window=s.text(
            "snapshot_window", "03:00-04:00", pattern=_SNAPSHOT_WINDOW, allowed="hh:mm-hh:mm UTC"
        ),
        maintenance_window=s.text(
            "maintenance_window",
            "sun:05:00-sun:06:00",
            pattern=_MAINTENANCE_WINDOW,
            allowed="ddd:hh:mm-ddd:hh:mm UTC, e.g. sun:05:00-sun:06:00",
        ),
        slow_log=s.flag("slow_log", True),
        log_retention_days=s.choice("log_retention_days", 30, LOG_RETENTION_DAYS),
    )
    if multi_az and replicas < 1:
        raise ConfigError(
            s.key_of("multi_az"),
            "Multi-AZ needs a replica (replicas_per_shard is 0)",
            "false, or replicas_per_shard >= 1",
        )
    if not cluster_mode and shards != 1:
        raise ConfigError(
            s.key_of("shards"),
            f"{shards} shards with cluster_mode false",
            "1 when cluster_mode is false (set cluster_mode true to shard)",
        )
    return config


def _mysql(s: _Section) -> MysqlConfig:
    def log_type(key: str, value: str) -> str:
        if value not in MYSQL_LOG_TYPES:
            raise ConfigError(key, f"unknown log type {value!r}", ", ".join(MYSQL_LOG_TYPES))
        return value

    allocated = s.whole("allocated_storage_gib", 20, minimum=20, maximum=65536)
    max_allocated = s.whole("max_allocated_storage_gib", 100, minimum=20, maximum=65536)
    if max_allocated < allocated:
        raise ConfigError(
            s.key_of("max_allocated_storage_gib"),
            f"{max_allocated} < {allocated}",
            "a value >= allocated_storage_gib",
        )
    return MysqlConfig(
        engine_version=s.text(
            "engine_version",
            "8.4.10",
            pattern=re.compile(r"^8\.4\.\d+$"),
            allowed="a MySQL 8.4 release RDS offers, e.g. 8.4.10",
        ),
        instance_type=s.text(
            "instance_type",
            "db.t4g.micro",
            pattern=re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$"),
            allowed="an RDS instance class such as db.t4g.micro or db.r7g.large",
        ),
        allocated_storage_gib=allocated,
        max_allocated_storage_gib=max_allocated,
        multi_az=s.flag("multi_az", False),
        database_name=s.text(
            "database_name",
            "app",
            pattern=_DB_IDENTIFIER,
            allowed="a MySQL identifier: a letter, then letters, digits, underscores",
        ),
        master_username=s.text(
            "master_username",
            "app_admin",
            pattern=_DB_IDENTIFIER,
            allowed="a MySQL user name: a letter, then letters, digits, underscores",
        ),
        port=s.whole("port", 3306, minimum=1150, maximum=65535),
        backup_retention_days=s.whole("backup_retention_days", 1, minimum=1, maximum=35),
        deletion_protection=s.flag("deletion_protection", False),
        proxy=s.flag("proxy", False),
        cloudwatch_logs=s.text_list("cloudwatch_logs", ("error", "slowquery"), item=log_type),
        log_retention_days=s.choice("log_retention_days", 30, LOG_RETENTION_DAYS),
        monitoring_interval_seconds=s.choice(
            "monitoring_interval_seconds", 0, RDS_MONITORING_INTERVALS
        ),
        ca_bundle_url=s.text(
            "ca_bundle_url",
            "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
            pattern=re.compile(r"^https://\S+\.pem$"),
            allowed="an https:// URL of a .pem file",
        ),
    )


def _functions(s: _Section) -> FunctionsConfig:
    def concurrency(name: str) -> int | None:
        return s.optional_whole(name, minimum=1, maximum=1000)

    return FunctionsConfig(
        memory_mb=s.whole("memory_mb", 512, minimum=128, maximum=10240),
        api_timeout_seconds=s.whole("api_timeout_seconds", 10, minimum=1, maximum=29),
        warmer_timeout_seconds=s.whole("warmer_timeout_seconds", 60, minimum=1, maximum=900),
        migrate_timeout_seconds=s.whole("migrate_timeout_seconds", 420, minimum=1, maximum=900),
        api_reserved_concurrency=concurrency("api_reserved_concurrency"),
        api_snapstart=s.flag("api_snapstart", False),
        warmer_reserved_concurrency=concurrency("warmer_reserved_concurrency"),
        migrate_reserved_concurrency=concurrency("migrate_reserved_concurrency"),
        warmer_rate_minutes=s.whole("warmer_rate_minutes", 10, minimum=1, maximum=1440),
        log_retention_days=s.choice("log_retention_days", 14, LOG_RETENTION_DAYS),
        log_level=s.choice("log_level", "INFO", LOG_LEVELS),
        tracing=s.flag("tracing", True),
        service_name=s.text(
            "service_name",
            metric_names.DEFAULT_SERVICE,
            pattern=_NAME,
            allowed="lowercase letters, digits and single hyphens",
        ),
        metrics_namespace=s.text(
            "metrics_namespace",
            metric_names.DEFAULT_NAMESPACE,
            pattern=_METRIC_NAMESPACE,
            allowed="a CloudWatch namespace: letters, digits and . _ / # : -",
        ),
        rate_limit_requests=s.whole("rate_limit_requests", 100, minimum=1, maximum=1_000_000),
        rate_limit_window_seconds=s.whole(
            "rate_limit_window_seconds", 60, minimum=1, maximum=86_400
        ),
        rate_limit_algorithm=s.choice("rate_limit_algorithm", "sliding", ("sliding", "fixed")),
        settings=s.mapping("settings", allowed_keys=TUNABLE_SETTINGS),
    )


def _api(s: _Section) -> ApiConfig:
    return ApiConfig(
        throttle_rate_limit=s.whole("throttle_rate_limit", 50, minimum=1, maximum=100_000),
        throttle_burst_limit=s.whole("throttle_burst_limit", 100, minimum=1, maximum=100_000),
        access_log_retention_days=s.choice("access_log_retention_days", 30, LOG_RETENTION_DAYS),
        auth=s.choice("auth", "iam", API_AUTH_MODES),
    )


API_AUTH_MODES = ("iam", "open")


def _monitoring(s: _Section) -> MonitoringConfig:
    return MonitoringConfig(
        alarm_email=s.optional_text("alarm_email", pattern=_EMAIL, allowed="an e-mail address"),
        allow_no_subscriber=s.flag("allow_no_subscriber", False),
        cache_cpu_percent=s.whole("cache_cpu_percent", 80, minimum=1, maximum=100),
        cache_evictions=s.whole("cache_evictions", 10_000, minimum=1, maximum=10**9),
        cache_connections=s.whole("cache_connections", 5_000, minimum=1, maximum=65_000),
        hit_ratio_percent=s.whole("hit_ratio_percent", 80, minimum=1, maximum=100),
        hit_ratio_min_reads=s.whole("hit_ratio_min_reads", 300, minimum=1, maximum=10**9),
        api_p99_ms=s.whole("api_p99_ms", 1_000, minimum=1, maximum=30_000),
        replication_lag_seconds=s.whole("replication_lag_seconds", 5, minimum=1, maximum=3600),
        db_cpu_percent=s.whole("db_cpu_percent", 80, minimum=1, maximum=100),
        db_free_storage_gib=s.whole("db_free_storage_gib", 2, minimum=1, maximum=1000),
        function_errors=s.whole("function_errors", 1, minimum=1, maximum=100_000),
    )


def read_flag(context: Mapping[str, Any], key: str, default: bool) -> bool:
    """A boolean context flag such as ``bundle`` (``-c bundle=false`` arrives as a string)."""
    return _parse_flag(key, context.get(key, default))


def _parse_flag(key: str, raw: Any) -> bool:
    """JSON booleans from cdk.json; true/false, 1/0, yes/no, on/off strings from ``-c``."""
    if isinstance(raw, bool):
        return raw
    parsed = parse_flag(raw) if isinstance(raw, str) else None
    if parsed is not None:
        return parsed
    raise ConfigError(key, f"invalid value {raw!r}", "true or false")
