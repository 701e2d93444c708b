"""One frozen pydantic model per section of an environment in ``cdk.json``.

Every bound, choice and pattern is a ``Field`` or a ``Literal`` here; the loader turns a
validation error into one line naming the context key, using the field's description
(or its choices and bounds) as what the key accepts. Unknown keys are typos and fail
(``extra="forbid"``). Checks across fields live in :mod:`infra.config.checks`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from lambda_app import metric_names
from lambda_app.caching.storage import HASH_MAX_LISTPACK_VALUE
from lambda_app.config_types import (
    Flag,
    ListFromText,
    NullFromText,
    OptionalWhole,
    Whole,
    WholeFromText,
)
from lambda_app.settings import MaxmemoryPolicy, RateLimitAlgorithm

#: ElastiCache Valkey engine versions this project supports: every version ElastiCache
#: offers for node-based Valkey (2026-12).
ValkeyEngineVersion = Literal["7.2", "8.0", "8.1", "8.2", "9.0", "9.1"]
#: Engine version -> parameter group family, which is named after the major version.
VALKEY_ENGINE_FAMILIES: dict[str, str] = {
    version: "valkey" + version.split(".")[0] for version in get_args(ValkeyEngineVersion)
}
#: Retention periods CloudWatch Logs accepts.
LogRetentionDays = Annotated[
    Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
        2557, 2922, 3288, 3653,
    ],
    WholeFromText,
]  # fmt: skip
MysqlLogType = Literal["error", "general", "slowquery", "iam-db-auth-error"]
RdsMonitoringInterval = Annotated[Literal[0, 1, 5, 10, 15, 30, 60], WholeFromText]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
#: What happens to the cache, the database and their keys when the data stack is deleted.
#: No "retain": a retained cache and database keep their security groups, subnet and
#: parameter groups, users and the VPC's subnets in use, so the stacks' delete fails
#: (DELETE_FAILED) and needs manual steps. "snapshot" keeps the data as final snapshots
#: and lets the delete finish.
RemovalPolicy = Literal["destroy", "snapshot"]
#: ``iam``: operator and owner routes need SigV4. No ``open``: the handler checks the
#: caller of every operator route itself, so an API Gateway without the check would only
#: turn a 403 from the authorizer into a 403 from the handler.
ApiAuth = Literal["iam"]
#: Settings-contract variables an environment may set through ``functions.settings``;
#: the connection variables are derived from the resources and cannot be overridden.
TunableSetting = Literal[
    "CACHE_PREFIX", "TTL_STATIC", "TTL_PRODUCT", "TTL_USER", "TTL_PRICE", "TTL_SESSION",
    "TTL_CONFIG", "TTL_QUERY", "TTL_DASHBOARD", "CACHE_TTL_JITTER", "CACHE_NEGATIVE_TTL",
    "CACHE_MAX_VALUE_BYTES", "CACHE_LARGE_VALUES", "NEAR_CACHE_CLASSES", "NEAR_CACHE_SIZE",
    "CACHE_BREAKER_FAILURES", "CACHE_BREAKER_COOLDOWN", "VALKEY_CONNECT_TIMEOUT",
    "VALKEY_TIMEOUT", "VALKEY_RETRIES", "DB_CONNECT_TIMEOUT", "DB_READ_TIMEOUT",
    "DB_WRITE_TIMEOUT",
]  # fmt: skip

NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
_WINDOW_TIME = r"([01]\d|2[0-3]):[0-5]\d"
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)"
_DB_IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"


def _private_cidr_prefix(cidr: str) -> str:
    """/16../18 leaves room for a /22 function subnet and two /24s in each of 6 zones."""
    octets, prefix = cidr.split("/")
    if not 16 <= int(prefix) <= 18 or any(int(o) > 255 for o in octets.split(".")):
        raise ValueError("prefix or octet out of range")
    return cidr


def _scalar_text(value: Any) -> Any:
    """A ``functions.settings`` value: JSON scalars become the text a variable holds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


OptionalText = Annotated[str | None, NullFromText]


def _text(default: str, pattern: str, allowed: str) -> Any:
    """A text field: its default, the pattern it must match, and what it accepts (the
    error message's words)."""
    return Field(default, pattern=pattern, description=allowed)


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NetworkConfig(Section):
    cidr: Annotated[str, AfterValidator(_private_cidr_prefix)] = _text(
        "10.40.0.0/16", r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$",
        "a private IPv4 CIDR with a /16 to /18 prefix, e.g. 10.40.0.0/16",
    )
    availability_zones: Annotated[
        tuple[Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")], ...],
        ListFromText,
    ] = Field((), description="a list of zone names such as us-east-1a")
    nat_gateways: Whole = Field(0, ge=0, le=3)
    flow_log_retention_days: LogRetentionDays = 30


class ValkeyConfig(Section):
    engine_version: ValkeyEngineVersion = "9.1"
    node_type: str = _text(
        "cache.t4g.micro", r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
        "an ElastiCache node type such as cache.t4g.micro or cache.r7g.large",
    )
    port: Whole = Field(6379, ge=1024, le=65535)
    maxmemory_policy: MaxmemoryPolicy = "allkeys-lfu"
    #: Bytes a hash field may hold and the hash stay a compact listpack.
    hash_max_listpack_value: Whole = Field(HASH_MAX_LISTPACK_VALUE, ge=64, le=8192)
    maxmemory_samples: OptionalWhole = Field(None, ge=1, le=64)
    lfu_log_factor: OptionalWhole = Field(None, ge=0, le=255)
    lfu_decay_time: OptionalWhole = Field(None, ge=0, le=1440)
    cluster_mode: Flag = False
    shards: Whole = Field(1, ge=1, le=500)
    replicas_per_shard: Whole = Field(1, ge=0, le=5)
    multi_az: Flag = True
    auth: Literal["iam", "password"] = "iam"
    # Every key and channel (pub/sub invalidation), minus keyspace-wide commands the app
    # never needs. ElastiCache rejects its own restricted commands (CONFIG, DEBUG...) in
    # access strings, so they are not listed; they are unavailable anyway.
    access_string: str = _text(
        "on ~* &* +@all -flushall -flushdb -keys", r"^on( \S+)+$",
        "a Valkey ACL access string that starts with 'on', e.g. 'on ~* &* +@all'",
    )
    snapshot_retention_days: Whole = Field(1, ge=0, le=35)
    snapshot_window: str = _text(
        "03:00-04:00", rf"^{_WINDOW_TIME}-{_WINDOW_TIME}$",
        "hh:mm-hh:mm UTC",
    )
    maintenance_window: str = _text(
        "sun:05:00-sun:06:00", rf"^{_DAY}:{_WINDOW_TIME}-{_DAY}:{_WINDOW_TIME}$",
        "ddd:hh:mm-ddd:hh:mm UTC, e.g. sun:05:00-sun:06:00",
    )
    slow_log: Flag = True
    log_retention_days: LogRetentionDays = 30

    @property
    def parameter_group_family(self) -> str:
        return VALKEY_ENGINE_FAMILIES[self.engine_version]

    @property
    def nodes_per_shard(self) -> int:
        return 1 + self.replicas_per_shard


class MysqlConfig(Section):
    #: 8.4 or 9.7 (the LTS majors RDS offers), as major.minor or a full release.
    engine_version: str = _text(
        "8.4", r"^(8\.4|9\.7)(\.\d+)?$",
        "8.4 or 9.7 (RDS picks and upgrades the minor release; 8.4 is the default), or a "
        "full 8.4.N or 9.7.N release RDS offers, which then drifts after an automatic upgrade",
    )
    @property
    def major_version(self) -> str:
        """``8.4`` or ``9.7``: the parameter group family follows it (``mysql8.4``)."""
        return ".".join(self.engine_version.split(".")[:2])

    instance_type: str = _text(
        "db.t4g.micro", r"^db\.[a-z0-9]+\.[a-z0-9]+$",
        "an RDS instance class such as db.t4g.micro or db.r7g.large",
    )
    allocated_storage_gib: Whole = Field(20, ge=20, le=65536)
    max_allocated_storage_gib: Whole = Field(100, ge=20, le=65536)
    multi_az: Flag = False
    database_name: str = _text(
        "app", _DB_IDENTIFIER,
        "a MySQL identifier: a letter, then letters, digits, underscores",
    )
    master_username: str = _text(
        "app_admin", _DB_IDENTIFIER,
        "a MySQL user name: a letter, then letters, digits, underscores",
    )
    port: Whole = Field(3306, ge=1150, le=65535)
    backup_retention_days: Whole = Field(1, ge=1, le=35)
    deletion_protection: Flag = False
    proxy: Flag = False
    cloudwatch_logs: Annotated[tuple[MysqlLogType, ...], ListFromText] = Field(
        ("error", "slowquery"),
        description="a list of log types: error, general, slowquery, iam-db-auth-error",
    )
    log_retention_days: LogRetentionDays = 30
    monitoring_interval_seconds: RdsMonitoringInterval = 0
    ca_bundle_url: str = _text(
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem", r"^https://\S+\.pem$",
        "an https:// URL of a .pem file",
    )


class FunctionsConfig(Section):
    memory_mb: Whole = Field(512, ge=128, le=10240)
    api_timeout_seconds: Whole = Field(10, ge=1, le=29)
    warmer_timeout_seconds: Whole = Field(60, ge=1, le=900)
    migrate_timeout_seconds: Whole = Field(420, ge=1, le=900)
    api_reserved_concurrency: OptionalWhole = Field(None, ge=1, le=1000)
    #: SnapStart for the API function: restores from a snapshot taken after init (imports,
    #: settings) instead of running it; the API is then invoked through its ``live`` alias.
    api_snapstart: Flag = False
    warmer_reserved_concurrency: OptionalWhole = Field(None, ge=1, le=1000)
    #: At least 2 when reserved: a deploy's migration and an operator's ``ops seed
    #: --remote`` may run at once (the database's migration lock orders them); with 1,
    #: the deploy's invoke is throttled while a seed runs, and the deploy fails.
    migrate_reserved_concurrency: OptionalWhole = Field(
        None, ge=2, le=1000,
        description="null (unreserved) or 2 to 1000 (a deploy and an operator's seed at once)")
    warmer_rate_minutes: Whole = Field(10, ge=1, le=1440)
    log_retention_days: LogRetentionDays = 14
    log_level: LogLevel = "INFO"
    tracing: Flag = True
    service_name: str = _text(
        metric_names.DEFAULT_SERVICE, NAME_PATTERN,
        "lowercase letters, digits and single hyphens",
    )
    metrics_namespace: str = _text(
        metric_names.DEFAULT_NAMESPACE, r"^[A-Za-z0-9._/#:-]{1,255}$",
        "a CloudWatch namespace: letters, digits and . _ / # : -",
    )
    rate_limit_requests: Whole = Field(100, ge=1, le=1_000_000)
    rate_limit_window_seconds: Whole = Field(60, ge=1, le=86_400)
    rate_limit_algorithm: RateLimitAlgorithm = "log"
    settings: dict[TunableSetting, Annotated[str, BeforeValidator(_scalar_text)]] = Field(
        default_factory=dict,
        description="an object of scalar values whose keys are a subset of: "
        + ", ".join(get_args(TunableSetting)),
    )


class ApiConfig(Section):
    throttle_rate_limit: Whole = Field(50, ge=1, le=100_000)
    throttle_burst_limit: Whole = Field(100, ge=1, le=100_000)
    access_log_retention_days: LogRetentionDays = 30
    auth: ApiAuth = Field(
        "iam",
        description="iam (open is not offered: the handler refuses unsigned operator "
        "calls on every route it serves, so an open API Gateway could not serve them)",
    )


class MonitoringConfig(Section):
    alarm_email: OptionalText = Field(
        None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="an e-mail address"
    )
    #: An environment with termination protection must notify someone: without an
    #: ``alarm_email`` its synth fails unless this says silence is intended.
    allow_no_subscriber: Flag = False
    cache_cpu_percent: Whole = Field(80, ge=1, le=100)
    #: Keys evicted per 5 minutes (max over nodes) above which the cache is too small
    #: for its working set; a full cache that evicts a little is the design.
    cache_evictions: Whole = Field(10_000, ge=1, le=10**9)
    cache_connections: Whole = Field(5_000, ge=1, le=65_000)
    #: The app's hit ratio (%) below which reads mostly reach MySQL, counted only over
    #: periods with at least ``hit_ratio_min_reads`` cached reads.
    hit_ratio_percent: Whole = Field(80, ge=1, le=100)
    hit_ratio_min_reads: Whole = Field(300, ge=1, le=10**9)
    api_p99_ms: Whole = Field(1_000, ge=1, le=30_000)
    replication_lag_seconds: Whole = Field(5, ge=1, le=3600)
    db_cpu_percent: Whole = Field(80, ge=1, le=100)
    db_free_storage_gib: Whole = Field(2, ge=1, le=1000)
    function_errors: Whole = Field(1, ge=1, le=100_000)


class AppConfig(Section):
    """Everything one environment deploys, typed; built only by ``load_config``."""

    env_name: str
    project: str = Field(
        "valkey-caching",
        pattern=NAME_PATTERN,
        # ElastiCache ids are <project>-<env>-<suffix> and must stay within 40 characters.
        max_length=20,
        description="up to 20 lowercase letters, digits and single hyphens, starting with a letter",
    )
    account: OptionalText = Field(None, pattern=r"^\d{12}$", description="a 12-digit account id")
    region: str = Field(
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$",
        description="an AWS region name, e.g. us-east-1",
    )
    termination_protection: Flag = False
    removal_policy: RemovalPolicy = Field(
        "destroy",
        description="destroy or snapshot (retain is not offered: a retained cache and "
        "database keep their security groups, subnets and parameter groups in use, so "
        "deleting the stacks fails; snapshot keeps the data and the delete finishes)",
    )
    network: NetworkConfig = NetworkConfig()
    valkey: ValkeyConfig = ValkeyConfig()
    mysql: MysqlConfig = MysqlConfig()
    functions: FunctionsConfig = FunctionsConfig()
    api: ApiConfig = ApiConfig()
    monitoring: MonitoringConfig = MonitoringConfig()

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
