"""Environment variables parsed once into typed, frozen pydantic models.

Lambda and the local server read the same variables, so a deployment differs from a
laptop only in its environment. A missing or malformed variable fails at start with a
message naming it and what it expects, instead of surfacing later as a confusing
connection error.

Each field's alias is its environment variable, so the variable names, their bounds and
their defaults are defined once, here; :data:`ENVIRONMENT_VARIABLES` lists them for the
stack's contract test. Plain pydantic rather than pydantic-settings: the latter's import
(dotenv, CLI and cloud providers the runtime never uses) adds ~26 ms to every cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar, get_args
from urllib.parse import unquote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from lambda_app import metric_names
from lambda_app.config_types import ConfigError, Flag, ListFromText, Whole, config_error

ValkeyAuth = Literal["none", "password", "iam"]
LargeValues = Literal["compress", "skip"]
#: ``log`` exact sliding log (default); ``sliding`` window-counter estimate; ``fixed``.
RateLimitAlgorithm = Literal["log", "sliding", "fixed"]
#: Eviction policies Valkey accepts for ``maxmemory-policy``; the stack accepts the same.
MaxmemoryPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]
MAXMEMORY_POLICIES: tuple[str, ...] = get_args(MaxmemoryPolicy)

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
MAX_TTL = 30 * 86_400
Port = Annotated[Whole, Field(ge=1, le=65_535)]
Seconds = Annotated[float, Field(allow_inf_nan=False)]
_Model = TypeVar("_Model", bound=BaseModel)


def ttl_variable(data_class: str) -> str:
    return f"TTL_{data_class.upper()}"


def _data_classes(names: frozenset[str]) -> frozenset[str]:
    if names - set(DEFAULT_TTLS):
        raise ValueError("unknown data class")
    return names


class _FromEnv(BaseModel):
    """Fields are read by alias (the variable); unrelated variables are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ValkeySettings(_FromEnv):
    host: str = Field("127.0.0.1", alias="VALKEY_HOST")
    port: Port = Field(6379, alias="VALKEY_PORT")
    db: int = 0
    tls: Flag = Field(False, alias="VALKEY_TLS")
    ca_file: str | None = Field(None, alias="VALKEY_CA_FILE")
    cluster: Flag = Field(False, alias="VALKEY_CLUSTER")
    auth: ValkeyAuth = Field("none", alias="VALKEY_AUTH")
    username: str | None = Field(None, alias="VALKEY_USERNAME")
    password: str | None = Field(None, alias="VALKEY_PASSWORD", repr=False)
    password_secret_arn: str | None = Field(None, alias="VALKEY_PASSWORD_SECRET_ARN")
    replication_group_id: str | None = Field(None, alias="VALKEY_REPLICATION_GROUP_ID")
    region: str | None = None
    connect_timeout: Seconds = Field(0.5, ge=0.01, le=60, alias="VALKEY_CONNECT_TIMEOUT")
    timeout: Seconds = Field(0.5, ge=0.01, le=60, alias="VALKEY_TIMEOUT")
    retries: Whole = Field(2, ge=0, le=10, alias="VALKEY_RETRIES")
    health_check_interval: Whole = Field(30, ge=0, alias="VALKEY_HEALTH_CHECK_INTERVAL")

    @model_validator(mode="before")
    @classmethod
    def _url_and_auth_default(cls, env: Any) -> Any:
        """``VALKEY_URL`` wins over host/port/TLS; a password means password auth."""
        env = dict(env)
        url = env.get("VALKEY_URL")
        if url is not None:
            env.update(_parse_valkey_url(url))
        if "VALKEY_AUTH" not in env and env.get("VALKEY_PASSWORD"):
            env["VALKEY_AUTH"] = "password"
        env.setdefault("region", env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))
        return env

    @model_validator(mode="after")
    def _complete(self) -> ValkeySettings:
        if self.cluster and self.db != 0:
            raise ConfigError(
                "VALKEY_URL", f"/{self.db}", "database 0 in cluster mode (no /N suffix)"
            )
        if self.auth == "iam":
            if not self.username:
                raise ConfigError("VALKEY_USERNAME", "", "the ElastiCache user id for IAM auth")
            if not self.replication_group_id:
                raise ConfigError(
                    "VALKEY_REPLICATION_GROUP_ID", "", "the replication group id for IAM auth"
                )
            if not self.tls:
                raise ConfigError("VALKEY_TLS", "false", "true: ElastiCache IAM auth requires TLS")
            if not self.region:
                raise ConfigError(
                    "AWS_REGION", "", "the AWS region, needed to sign IAM auth tokens"
                )
        if self.auth == "password" and not (self.password or self.password_secret_arn):
            raise ConfigError(
                "VALKEY_PASSWORD",
                "",
                "a password, or VALKEY_PASSWORD_SECRET_ARN, for VALKEY_AUTH=password",
            )
        return self


def _parse_valkey_url(url: str) -> dict[str, Any]:
    expected = "valkey://[user:password@]host[:port][/db] or valkeys:// for TLS"
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError:
        raise ConfigError("VALKEY_URL", url, expected) from None
    path = parts.path.strip("/")
    if (
        parts.scheme not in ("valkey", "valkeys", "redis", "rediss")
        or not parts.hostname
        or (path and not path.isdigit())
    ):
        raise ConfigError("VALKEY_URL", url, expected)
    parsed: dict[str, Any] = {
        "VALKEY_HOST": parts.hostname,
        "VALKEY_PORT": port,
        "VALKEY_TLS": parts.scheme in ("valkeys", "rediss"),
        "db": int(path or 0),
    }
    if parts.username:
        parsed["VALKEY_USERNAME"] = unquote(parts.username)
    if parts.password:
        parsed["VALKEY_PASSWORD"] = unquote(parts.password)
    return parsed


class DatabaseSettings(_FromEnv):
    host: str = Field("127.0.0.1", alias="DB_HOST")
    port: Port = Field(3306, alias="DB_PORT")
    name: str = Field(
        "app",
        alias="DB_NAME",
        pattern=r"^[A-Za-z0-9_]+$",
        description="letters, digits and underscores",
    )
    user: str | None = Field(None, alias="DB_USER")
    password: str | None = Field(None, alias="DB_PASSWORD", repr=False)
    secret_arn: str | None = Field(None, alias="DB_SECRET_ARN")
    #: The migrator only: the application user's secret, whose user it creates and grants.
    app_secret_arn: str | None = Field(None, alias="DB_APP_SECRET_ARN")
    tls: Flag = Field(False, alias="DB_TLS")
    ca_file: str | None = Field(None, alias="DB_CA_FILE")
    connect_timeout: Seconds = Field(3.0, ge=0.1, le=60, alias="DB_CONNECT_TIMEOUT")
    read_timeout: Seconds = Field(10.0, ge=0.1, le=900, alias="DB_READ_TIMEOUT")
    write_timeout: Seconds = Field(10.0, ge=0.1, le=900, alias="DB_WRITE_TIMEOUT")


class CacheSettings(_FromEnv):
    prefix: str = Field(
        "app",
        alias="CACHE_PREFIX",
        pattern=r"^[^ {}*?\[\]:]{1,64}$",
        description="up to 64 characters without spaces, braces, ':' or glob characters",
    )
    maxmemory_policy: MaxmemoryPolicy = Field("allkeys-lfu", alias="CACHE_MAXMEMORY_POLICY")
    #: Read from ``TTL_<CLASS>``, one variable per data class.
    ttls: Mapping[str, int] = Field(default_factory=lambda: dict(DEFAULT_TTLS))
    ttl_jitter: Seconds = Field(0.1, ge=0.0, le=0.5, alias="CACHE_TTL_JITTER")
    negative_ttl: Whole = Field(60, ge=1, le=86_400, alias="CACHE_NEGATIVE_TTL")
    max_value_bytes: Whole = Field(102_400, ge=1_024, alias="CACHE_MAX_VALUE_BYTES")
    large_values: LargeValues = Field("compress", alias="CACHE_LARGE_VALUES")
    near_cache_classes: Annotated[frozenset[str], ListFromText, AfterValidator(_data_classes)] = (
        Field(
            frozenset(),
            alias="NEAR_CACHE_CLASSES",
            description="a comma-separated list of " + ", ".join(DEFAULT_TTLS),
        )
    )
    near_cache_size: Whole = Field(1024, ge=1, le=1_000_000, alias="NEAR_CACHE_SIZE")
    breaker_failures: Whole = Field(3, ge=1, le=1_000, alias="CACHE_BREAKER_FAILURES")
    breaker_cooldown: Seconds = Field(5.0, ge=0.1, le=3_600, alias="CACHE_BREAKER_COOLDOWN")


class _Ttls(BaseModel):
    """One bounded ``TTL_<CLASS>`` variable per data class."""

    values: dict[str, Annotated[Whole, Field(ge=1, le=MAX_TTL)]] = Field(
        description=f"a whole number from 1 to {MAX_TTL} (seconds)"
    )


class RateLimitSettings(_FromEnv):
    requests: Whole = Field(100, ge=1, alias="RATE_LIMIT_REQUESTS")
    window: Whole = Field(60, ge=1, le=86_400, alias="RATE_LIMIT_WINDOW")
    algorithm: RateLimitAlgorithm = Field("log", alias="RATE_LIMIT_ALGORITHM")
    #: Login budgets in ``login_window`` (:mod:`lambda_app.caching.login_limit`): every
    #: attempt per source address; failures per address and account, kept below the
    #: failures per account, so one stranger cannot lock an account's owner out.
    login_requests: Whole = Field(30, ge=1, le=10_000, alias="LOGIN_RATE_LIMIT_REQUESTS")
    login_address_account_failures: Whole = Field(
        5, ge=1, le=10_000, alias="LOGIN_ADDRESS_ACCOUNT_FAILURES"
    )
    login_account_failures: Whole = Field(50, ge=1, le=100_000, alias="LOGIN_ACCOUNT_FAILURES")
    login_window: Whole = Field(900, ge=1, le=86_400, alias="LOGIN_RATE_LIMIT_WINDOW")

    @model_validator(mode="after")
    def _stranger_below_account(self) -> RateLimitSettings:
        if self.login_address_account_failures >= self.login_account_failures:
            raise ConfigError(
                "LOGIN_ADDRESS_ACCOUNT_FAILURES",
                str(self.login_address_account_failures),
                f"fewer than LOGIN_ACCOUNT_FAILURES ({self.login_account_failures}), or one "
                "address could lock an account's owner out",
            )
        return self


class SessionSettings(_FromEnv):
    #: Sessions end this long after login however active (the idle timeout is TTL_SESSION).
    max_lifetime: Whole = Field(43_200, ge=60, le=30 * 86_400, alias="SESSION_MAX_LIFETIME")


class Settings(_FromEnv):
    """Everything the runtime reads from its environment."""

    valkey: ValkeySettings = ValkeySettings()
    db: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    sessions: SessionSettings = SessionSettings()
    aws_region: str | None = None
    service_name: str = metric_names.DEFAULT_SERVICE

    @model_validator(mode="after")
    def _lifetime_covers_idle(self) -> Settings:
        idle = self.cache.ttls["session"]
        if self.sessions.max_lifetime < idle:
            raise ConfigError(
                "SESSION_MAX_LIFETIME",
                str(self.sessions.max_lifetime),
                f"at least the idle timeout TTL_SESSION ({idle} s)",
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = {
            name: value.strip()
            for name, value in (os.environ if environ is None else environ).items()
            if value.strip()
        }
        ttls = _parse(
            _Ttls,
            {
                "values": {
                    name: env.get(ttl_variable(name), ttl) for name, ttl in DEFAULT_TTLS.items()
                }
            },
            lambda loc: ttl_variable(loc[-1]),
        )
        if "VALKEY_URL" in env:  # the URL wins, but a malformed value is still an error
            overridden = ("VALKEY_HOST", "VALKEY_PORT", "VALKEY_TLS")
            _parse(ValkeySettings, {name: env[name] for name in overridden if name in env})
        return cls(
            valkey=_parse(ValkeySettings, env),
            db=_parse(DatabaseSettings, env),
            cache=_parse(CacheSettings, {**env, "ttls": ttls.values}),
            rate_limit=_parse(RateLimitSettings, env),
            sessions=_parse(SessionSettings, env),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            service_name=env.get(metric_names.SERVICE_ENV, metric_names.DEFAULT_SERVICE),
        )


def _parse(
    model: type[_Model],
    data: Mapping[str, Any],
    name_of: Callable[[tuple[str, ...]], str] = lambda loc: loc[-1],
) -> _Model:
    """``model`` from ``data``; a bad value raises ConfigError naming its variable."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise config_error(error, model, name_of) from None


#: Every variable the settings read, for the stack's contract test.
ENVIRONMENT_VARIABLES: frozenset[str] = frozenset(
    {
        info.alias
        for model in (
            ValkeySettings, DatabaseSettings, CacheSettings, RateLimitSettings, SessionSettings
        )
        for info in model.model_fields.values()
        if info.alias
    }
    | {ttl_variable(name) for name in DEFAULT_TTLS}
    | {"VALKEY_URL", "AWS_REGION", "AWS_DEFAULT_REGION", metric_names.SERVICE_ENV}
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, parsed on first use (Lambda init, local server start)."""
    return Settings.from_env()
