"""The Valkey client: built once per process, reused across invocations.

valkey-py defaults to unbounded socket timeouts and no retries, which turns a network
blip into a Lambda that hangs until its own timeout. Every client here has explicit
connect/read timeouts, a jittered exponential backoff ``Retry`` on connection and
timeout errors, and periodic health checks on idle connections, on connections that
neither recurse through reconnects nor build a TLS context each
(:mod:`lambda_app.clients.valkey_connection`).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import valkey
from valkey.backoff import EqualJitterBackoff
from valkey.cluster import ValkeyCluster
from valkey.credentials import CredentialProvider, UsernamePasswordCredentialProvider
from valkey.retry import Retry

from lambda_app.clients.errors import CacheUnavailable
from lambda_app.clients.valkey_connection import CheckedConnection, SharedContextSSLConnection
from lambda_app.settings import Settings, ValkeySettings

ValkeyClient = valkey.Valkey | ValkeyCluster


class CacheClient(Protocol):
    """The commands the caching patterns call. ``valkey.Valkey`` and ``ValkeyCluster``
    both provide them; typing against this says what a pattern needs from a client
    (and what a test double would have to provide), where ``Any`` said nothing."""

    def get(self, name: Any) -> Any: ...
    def getex(self, name: Any, *, px: Any = ...) -> Any: ...
    def set(self, name: Any, value: Any, *, px: Any = ..., nx: bool = ...) -> Any: ...
    def delete(self, *names: Any) -> Any: ...
    def unlink(self, *names: Any) -> Any: ...
    def pexpire(self, name: Any, time: Any) -> Any: ...
    def publish(self, channel: Any, message: Any) -> Any: ...
    def pipeline(self, transaction: bool = ...) -> Any: ...
    def pubsub(self, **kwargs: Any) -> Any: ...
    def register_script(self, script: Any) -> Any: ...
    def execute_command(self, *args: Any, **options: Any) -> Any: ...
    def get_encoder(self) -> Any: ...
    def script_load(self, script: Any) -> Any: ...


class TrackingClient(CacheClient, Protocol):
    """A client built with ``protocol=3, cache_enabled=True`` (RESP3 client tracking),
    which also controls valkey-py's local reply cache."""

    def flush_cache(self) -> Any: ...

#: What a caller catches to mean "the cache did not answer"; anything else is a bug.
VALKEY_ERRORS: tuple[type[BaseException], ...] = (
    valkey.exceptions.ConnectionError,
    valkey.exceptions.TimeoutError,
    valkey.exceptions.ClusterDownError,
    valkey.exceptions.BusyLoadingError,
    valkey.exceptions.ReadOnlyError,
    OSError,
)

_BACKOFF_BASE_SECONDS = 0.02
_BACKOFF_CAP_SECONDS = 0.5


def credential_provider(settings: ValkeySettings) -> CredentialProvider | None:
    """The provider for the configured auth mode (None: no AUTH)."""
    if settings.auth == "iam":
        from lambda_app.clients.iam_auth import ElastiCacheIAMProvider

        return ElastiCacheIAMProvider(
            user_id=settings.username or "",
            replication_group_id=settings.replication_group_id or "",
            region=settings.region or "",
        )
    if settings.auth == "password":
        password = settings.password
        if password is None and settings.password_secret_arn:
            from lambda_app.clients.secrets import get_secret_string

            password = get_secret_string(
                settings.password_secret_arn, "VALKEY_PASSWORD_SECRET_ARN"
            )
        return UsernamePasswordCredentialProvider(settings.username, password)
    return None


def connection_options(settings: ValkeySettings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments shared by the standalone and the cluster client."""
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.connect_timeout,
        "socket_timeout": settings.timeout,
        "retry": Retry(
            EqualJitterBackoff(cap=_BACKOFF_CAP_SECONDS, base=_BACKOFF_BASE_SECONDS),
            settings.retries,
        ),
        "retry_on_error": [valkey.exceptions.ConnectionError, valkey.exceptions.TimeoutError],
        "health_check_interval": settings.health_check_interval,
        "credential_provider": credential_provider(settings),
    }
    if settings.tls:
        options["connection_class"] = SharedContextSSLConnection
        options["ssl_cert_reqs"] = "required"
        if settings.ca_file:
            options["ssl_ca_certs"] = settings.ca_file
    else:
        options["connection_class"] = CheckedConnection
    options.update(overrides)
    return options


def build_valkey(settings: ValkeySettings, **overrides: Any) -> ValkeyClient:
    """A new client for these settings; ``overrides`` reach valkey-py (e.g. protocol=3).

    Built ``from_url``, the way valkey-py takes a ``connection_class`` for standalone
    and cluster clients alike (the class, not the scheme, decides TLS)."""
    options = connection_options(settings, **overrides)
    url = f"valkey://{settings.host}:{settings.port}"
    if settings.cluster:
        # The cluster client does its own retries across nodes; keep the per-node
        # Retry too so a single timeout does not fail a whole command.
        return ValkeyCluster(url=url, **options)
    return valkey.Valkey.from_url(f"{url}/{settings.db}", **options)


def endpoint(settings: ValkeySettings) -> str:
    scheme = "valkeys" if settings.tls else "valkey"
    return f"{scheme}://{settings.host}:{settings.port}"


def ping(client: ValkeyClient, settings: ValkeySettings) -> None:
    """Raise ``CacheUnavailable`` unless the server answers within its timeouts."""
    try:
        client.ping()
    except valkey.exceptions.AuthenticationError as exc:
        raise CacheUnavailable(endpoint(settings), f"authentication failed ({exc})") from None
    except valkey.exceptions.ResponseError as exc:
        raise CacheUnavailable(endpoint(settings), f"server refused: {exc}") from None
    except VALKEY_ERRORS as exc:
        raise CacheUnavailable(endpoint(settings), _reason(exc)) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


_lock = threading.Lock()
_clients: dict[ValkeySettings, ValkeyClient] = {}


def get_valkey(settings: Settings | ValkeySettings) -> ValkeyClient:
    """The process-wide client for these settings, created on first use.

    Creating it connects nothing: the first command does, so a cold start does not pay
    for the cache until the cache is needed, and an outage surfaces as a typed error
    from the command rather than from import time.
    """
    key = settings.valkey if isinstance(settings, Settings) else settings
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = build_valkey(key)
    return client


def reset_clients() -> None:
    """Close and forget every cached client (tests, and after a settings change)."""
    with _lock:
        for client in _clients.values():
            client.close()  # type: ignore[no-untyped-call]
        _clients.clear()


def server_version(client: CacheClient) -> tuple[int, int]:
    """``(major, minor)`` of the server (for a cluster: of the node answering INFO)."""
    info: Any = client.execute_command("INFO", "server")
    if isinstance(info, dict) and info and all(isinstance(v, dict) for v in info.values()):
        info = next(iter(info.values()))  # a cluster client answers per node
    if isinstance(info, bytes):
        info = dict(
            line.split(":", 1) for line in info.decode().splitlines() if ":" in line
        )
    version = str(info.get("valkey_version") or info.get("redis_version") or "0.0")
    major, minor, *_ = (int(part) for part in [*version.split(".")[:2], "0"])
    return major, minor
