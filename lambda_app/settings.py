"""Environment variables parsed once into a typed, frozen object.

Lambda and the local server read the same variables, so a deployment differs from a
laptop only in its environment. A missing or malformed variable fails at start with a
message naming it and what it expects, instead of surfacing later as a confusing
connection error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit

from lambda_app import metric_names
from lambda_app.clients.errors import ConfigError
from lambda_app.flags import parse_flag

T = TypeVar("T")

ValkeyAuth = Literal["none", "password", "iam"]
LargeValues = Literal["compress", "skip"]
RateLimitAlgorithm = Literal["sliding", "fixed"]

#: Eviction policies Valkey accepts for ``maxmemory-policy``.
MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)

#: TTL in seconds per data class: how stale each may be (prices 10 s, static data a day).
DEFAULT_TTLS: Mapping[str, int] = {
    "static": 86_400,
    "product": 3_600,
    "user": 900,
    "price": 10,
    "session": 1_800,
    "config": 300,
    "query": 300,
    "dashboard": 300,
}



def _shown(bound: float) -> str:
    """``2592000`` rather than ``2.592e+06``; ``0.1`` stays ``0.1``."""
    return f"{bound:.0f}" if float(bound).is_integer() else f"{bound:g}"


class _Env:
    """Typed accessors over one mapping; every error names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def optional(self, name: str) -> str | None:
        return self.raw(name)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if not value.strip():
            return False  # set but empty: off
        parsed = parse_flag(value)
        if parsed is None:
            raise ConfigError(name, value, "true or false (also 1/0, yes/no, on/off)")
        return parsed

    def number(
        self,
        name: str,
        default: T,
        convert: Callable[[str], T],
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        kind: str = "a number",
    ) -> T:
        value = self.raw(name)
        if value is None:
            return default
        expected = kind
        if minimum is not None and maximum is not None:
            expected = f"{kind} from {_shown(minimum)} to {_shown(maximum)}"
        elif minimum is not None:
            expected = f"{kind} >= {_shown(minimum)}"
        try:
            parsed = convert(value)
        except ValueError:
            raise ConfigError(name, value, expected) from None
        as_float = float(parsed)  # type: ignore[arg-type]
        if math.isnan(as_float) or (minimum is not None and as_float < minimum) or (
            maximum is not None and as_float > maximum
        ):
            raise ConfigError(name, value, expected)
        return parsed

    def whole(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        return self.number(
            name, default, int, minimum=minimum, maximum=maximum, kind="a whole number"
        )

    def real(
        self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
    ) -> float:
        return self.number(name, default, float, minimum=minimum, maximum=maximum)

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value not in allowed:
            raise ConfigError(name, value, "one of " + ", ".join(allowed))
        return value

    def csv(self, name: str, allowed: tuple[str, ...]) -> frozenset[str]:
        value = self.raw(name)
        if value is None:
            return frozenset()
        items = {item.strip() for item in value.split(",") if item.strip()}
        unknown = sorted(items - set(allowed))
        if unknown:
            raise ConfigError(
                name, value, "a comma-separated list of " + ", ".join(allowed)
            )
        return frozenset(items)


@dataclass(frozen=True)
class ValkeySettings:
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    tls: bool = False
    ca_file: str | None = None
    cluster: bool = False
    auth: ValkeyAuth = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_secret_arn: str | None = None
    replication_group_id: str | None = None
    region: str | None = None
    connect_timeout: float = 0.5
    timeout: float = 0.5
    retries: int = 2
    health_check_interval: int = 30


@dataclass(frozen=True)
class DatabaseSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    name: str = "app"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    secret_arn: str | None = None
    #: The migrator only: the application user's secret, whose user it creates and grants.
    app_secret_arn: str | None = None
    tls: bool = False
    ca_file: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    write_timeout: float = 10.0


@dataclass(frozen=True)
class CacheSettings:
    prefix: str = "app"
    maxmemory_policy: str = "allkeys-lfu"
    ttls: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TTLS))
    ttl_jitter: float = 0.1
    negative_ttl: int = 60
    max_value_bytes: int = 102_400
    large_values: LargeValues = "compress"
    near_cache_classes: frozenset[str] = frozenset()
    near_cache_size: int = 1024
    breaker_failures: int = 3
    breaker_cooldown: float = 5.0


@dataclass(frozen=True)
class RateLimitSettings:
    requests: int = 100
    window: int = 60
    algorithm: RateLimitAlgorithm = "sliding"
    #: Login attempts per source address and, separately, per email, in ``login_window``.
    login_requests: int = 10
    login_window: int = 300


@dataclass(frozen=True)
class Settings:
    """Everything the runtime reads from its environment."""

    valkey: ValkeySettings = field(default_factory=ValkeySettings)
    db: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    aws_region: str | None = None
    service_name: str = metric_names.DEFAULT_SERVICE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Env(os.environ if environ is None else environ)
        return cls(
            valkey=_valkey(env),
            db=_database(env),
            cache=_cache(env),
            rate_limit=RateLimitSettings(
                requests=env.whole("RATE_LIMIT_REQUESTS", 100, minimum=1),
                window=env.whole("RATE_LIMIT_WINDOW", 60, minimum=1, maximum=86_400),
                algorithm=env.choice(  # type: ignore[arg-type]
                    "RATE_LIMIT_ALGORITHM", "sliding", ("sliding", "fixed")
                ),
                login_requests=env.whole("LOGIN_RATE_LIMIT_REQUESTS", 10, minimum=1,
                                         maximum=10_000),
                login_window=env.whole("LOGIN_RATE_LIMIT_WINDOW", 300, minimum=1,
                                       maximum=86_400),
            ),
            aws_region=_region(env),
            service_name=env.text(metric_names.SERVICE_ENV, metric_names.DEFAULT_SERVICE),
        )


def _valkey(env: _Env) -> ValkeySettings:
    host = env.text("VALKEY_HOST", "127.0.0.1")
    port = env.whole("VALKEY_PORT", 6379, minimum=1, maximum=65_535)
    tls = env.flag("VALKEY_TLS", False)
    username = env.optional("VALKEY_USERNAME")
    password = env.optional("VALKEY_PASSWORD")
    db = 0
    url = env.optional("VALKEY_URL")
    if url is not None:
        host, port, tls, db, url_user, url_password = _parse_valkey_url(url)
        username = url_user or username
        password = url_password or password
    auth_default = "password" if password else "none"
    auth = env.choice("VALKEY_AUTH", auth_default, ("none", "password", "iam"))
    settings = ValkeySettings(
        host=host,
        port=port,
        db=db,
        tls=tls,
        ca_file=env.optional("VALKEY_CA_FILE"),
        cluster=env.flag("VALKEY_CLUSTER", False),
        auth=auth,  # type: ignore[arg-type]
        username=username,
        password=password,
        password_secret_arn=env.optional("VALKEY_PASSWORD_SECRET_ARN"),
        replication_group_id=env.optional("VALKEY_REPLICATION_GROUP_ID"),
        region=_region(env),
        connect_timeout=env.real("VALKEY_CONNECT_TIMEOUT", 0.5, minimum=0.01, maximum=60),
        timeout=env.real("VALKEY_TIMEOUT", 0.5, minimum=0.01, maximum=60),
        retries=env.whole("VALKEY_RETRIES", 2, minimum=0, maximum=10),
        health_check_interval=env.whole("VALKEY_HEALTH_CHECK_INTERVAL", 30, minimum=0),
    )
    if settings.cluster and settings.db != 0:
        raise ConfigError("VALKEY_URL", url or "", "database 0 in cluster mode (no /N suffix)")
    if settings.auth == "iam":
        if not settings.username:
            raise ConfigError("VALKEY_USERNAME", "", "the ElastiCache user id for IAM auth")
        if not settings.replication_group_id:
            raise ConfigError(
                "VALKEY_REPLICATION_GROUP_ID", "", "the replication group id for IAM auth"
            )
        if not settings.tls:
            raise ConfigError("VALKEY_TLS", "false", "true: ElastiCache IAM auth requires TLS")
        if not settings.region:
            raise ConfigError("AWS_REGION", "", "the AWS region, needed to sign IAM auth tokens")
    if settings.auth == "password" and not (settings.password or settings.password_secret_arn):
        raise ConfigError(
            "VALKEY_PASSWORD",
            "",
            "a password, or VALKEY_PASSWORD_SECRET_ARN, for VALKEY_AUTH=password",
        )
    return settings


def _region(env: _Env) -> str | None:
    return env.optional("AWS_REGION") or env.optional("AWS_DEFAULT_REGION")


def _parse_valkey_url(url: str) -> tuple[str, int, bool, int, str | None, str | None]:
    expected = "valkey://[user:password@]host[:port][/db] or valkeys:// for TLS"
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError:
        raise ConfigError("VALKEY_URL", url, expected) from None
    if parts.scheme not in ("valkey", "valkeys", "redis", "rediss") or not parts.hostname:
        raise ConfigError("VALKEY_URL", url, expected)
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ConfigError("VALKEY_URL", url, expected)
    return (
        parts.hostname,
        port,
        parts.scheme in ("valkeys", "rediss"),
        int(path or 0),
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def _database(env: _Env) -> DatabaseSettings:
    settings = DatabaseSettings(
        host=env.text("DB_HOST", "127.0.0.1"),
        port=env.whole("DB_PORT", 3306, minimum=1, maximum=65_535),
        name=env.text("DB_NAME", "app"),
        user=env.optional("DB_USER"),
        password=env.optional("DB_PASSWORD"),
        secret_arn=env.optional("DB_SECRET_ARN"),
        app_secret_arn=env.optional("DB_APP_SECRET_ARN"),
        tls=env.flag("DB_TLS", False),
        ca_file=env.optional("DB_CA_FILE"),
        connect_timeout=env.real("DB_CONNECT_TIMEOUT", 3.0, minimum=0.1, maximum=60),
        read_timeout=env.real("DB_READ_TIMEOUT", 10.0, minimum=0.1, maximum=900),
        write_timeout=env.real("DB_WRITE_TIMEOUT", 10.0, minimum=0.1, maximum=900),
    )
    if not settings.name.replace("_", "").isalnum():
        raise ConfigError("DB_NAME", settings.name, "letters, digits and underscores")
    return settings


def _cache(env: _Env) -> CacheSettings:
    prefix = env.text("CACHE_PREFIX", "app")
    if any(ch in prefix for ch in " {}*?[]:") or len(prefix) > 64:
        raise ConfigError(
            "CACHE_PREFIX",
            prefix,
            "up to 64 characters without spaces, braces, ':' or glob characters",
        )
    ttls = {
        name: env.whole(f"TTL_{name.upper()}", default, minimum=1, maximum=30 * 86_400)
        for name, default in DEFAULT_TTLS.items()
    }
    return CacheSettings(
        prefix=prefix,
        maxmemory_policy=env.choice("CACHE_MAXMEMORY_POLICY", "allkeys-lfu", MAXMEMORY_POLICIES),
        ttls=ttls,
        ttl_jitter=env.real("CACHE_TTL_JITTER", 0.1, minimum=0.0, maximum=0.5),
        negative_ttl=env.whole("CACHE_NEGATIVE_TTL", 60, minimum=1, maximum=86_400),
        max_value_bytes=env.whole("CACHE_MAX_VALUE_BYTES", 102_400, minimum=1_024),
        large_values=env.choice(  # type: ignore[arg-type]
            "CACHE_LARGE_VALUES", "compress", ("compress", "skip")
        ),
        near_cache_classes=env.csv("NEAR_CACHE_CLASSES", tuple(DEFAULT_TTLS)),
        near_cache_size=env.whole("NEAR_CACHE_SIZE", 1024, minimum=1, maximum=1_000_000),
        breaker_failures=env.whole("CACHE_BREAKER_FAILURES", 3, minimum=1, maximum=1_000),
        breaker_cooldown=env.real("CACHE_BREAKER_COOLDOWN", 5.0, minimum=0.1, maximum=3_600),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, parsed on first use (Lambda init, local server start)."""
    return Settings.from_env()
