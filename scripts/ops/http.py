"""A tiny JSON-over-HTTP client on urllib3 (already installed with botocore).

Why not plain urllib: the load generator needs pooled keep-alive connections shared by
threads, and every command needs transport failures turned into one readable line
("cannot reach http://host:port: connection refused") instead of a nested traceback.
Retries are off by default: smoke and load must see each failure exactly as it happened;
``connect_retries`` retries only connections that were never established (a server
still starting), with backoff. Against the deployed API a client signs its requests
with SigV4 (:mod:`scripts.ops.sigv4`). The demo, the ops commands and the end-to-end
tests all use this one client; ``source_address`` lets a test be a caller of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import urllib3
from urllib3 import exceptions as u3

from scripts.ops.errors import OpsError, UsageError
from scripts.ops.sigv4 import Signer

USER_AGENT = "scripts.ops/1"


class HttpError(OpsError):
    """The request never produced an HTTP response (refused, timed out, bad TLS...)."""


def parse_base_url(text: str) -> str:
    """``http(s)://host[:port][/path]`` without a trailing slash, or a ``UsageError``."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise UsageError(f"bad URL {text!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"bad URL {text!r}: expected http:// or https:// followed by a host")
    if not parts.hostname:
        raise UsageError(f"bad URL {text!r}: no host name")
    if parts.query or parts.fragment:
        raise UsageError(f"bad URL {text!r}: a base URL takes no query string or fragment")
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class Response:
    """One HTTP exchange: status, case-insensitive headers, raw body, wall time."""

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    seconds: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        """``GET /x -> 404 {"error": ...}`` for failure details (body cut short)."""
        text = self.body[:160].decode("utf-8", "replace")
        return f"{self.method} {self.path} -> {self.status} {text}".rstrip()


class HttpClient:
    """Sends requests relative to one base URL through a shared connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        pool_size: int = 4,
        signer: Signer | None = None,
        connect_retries: int = 0,
        source_address: tuple[str, int] | None = None,
    ) -> None:
        self.base_url = parse_base_url(base_url)
        #: Signs every request (SigV4, ``--remote``) unless a call says ``sign=False``.
        self.signer = signer
        self.timeout = timeout
        self.default_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        retries: urllib3.Retry | bool = False
        if connect_retries:
            retries = urllib3.Retry(
                total=connect_retries, connect=connect_retries, read=0, status=0, other=0,
                redirect=False, backoff_factor=0.1, raise_on_status=False,
            )  # fmt: skip
        extra: dict[str, Any] = {}
        if source_address is not None:
            extra["source_address"] = source_address
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=pool_size,
            retries=retries,
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            **extra,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> Response:
        """One request; ``json_body`` is serialised, ``body`` is sent as is; signed when
        the client has a signer and ``sign`` (a bearer-token call sends no signature)."""
        sent = {**self.default_headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        url = self.base_url + path
        if sign and self.signer is not None:
            sent = self.signer(method, url, sent, body)
        started = time.perf_counter()
        try:
            reply = self._pool.request(
                method, url, body=body, headers=sent, redirect=False, preload_content=True
            )
        except u3.HTTPError as exc:
            raise HttpError(f"{method} {url}: {transport_reason(exc)}") from None
        seconds = time.perf_counter() - started
        return Response(method, path, reply.status, reply.headers, reply.data, seconds)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._pool.clear()


def region_of(url: str) -> str | None:
    """``us-east-1`` from ``https://abc123.execute-api.us-east-1.amazonaws.com``."""
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if "execute-api" in parts and parts.index("execute-api") + 1 < len(parts):
        return parts[parts.index("execute-api") + 1]
    return None


def http_client(args: Any, *, pool_size: int = 4) -> HttpClient:
    """The client a subcommand's ``--remote/--region/--profile/--timeout`` ask for."""
    signer = None
    if getattr(args, "remote", False):
        from scripts.ops.sigv4 import sigv4_signer

        region = args.region or region_of(args.base_url)
        if not region:
            raise UsageError("--remote: give --region (the URL does not name one)")
        signer = sigv4_signer(region, profile=args.profile)
    return HttpClient(args.base_url, timeout=args.timeout, pool_size=pool_size, signer=signer)


def transport_reason(exc: BaseException) -> str:
    """A short, human reason for a urllib3 transport failure."""
    if isinstance(exc, u3.MaxRetryError) and exc.reason is not None:
        return transport_reason(exc.reason)
    # Order matters: NameResolutionError < NewConnectionError < ConnectTimeoutError.
    if isinstance(exc, u3.NameResolutionError):
        return "host name not found"
    if isinstance(exc, u3.NewConnectionError):  # "...: [Errno 111] Connection refused"
        text = str(exc)
        return text.rsplit("] ", 1)[-1].lower() if "] " in text else "cannot connect"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return f"TLS error: {exc}" if isinstance(exc, u3.SSLError) else str(exc) or type(exc).__name__


#: The other transport failures and how to say them.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (u3.ConnectTimeoutError, "connection timed out"),
    (u3.ReadTimeoutError, "no response before the read timeout"),
    (u3.ProtocolError, "connection dropped by the server"),
)


def error_shape(response: Response) -> str | None:
    """None when the body is the contract's ``{"error": code, "message": text}``."""
    body = response.json()
    if not isinstance(body, dict):
        return f"body is not a JSON object: {response.describe()}"
    if not isinstance(body.get("error"), str) or not body["error"]:
        return f'no "error" code: {response.describe()}'
    if not isinstance(body.get("message"), str):
        return f'no "message": {response.describe()}'
    return None
