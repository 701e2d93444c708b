"""TLS set-up at cold start: a new connection's cost with a context per connection
(valkey-py's own ``SSLConnection``, and what PyMySQL was handed) and with one context
per process (:mod:`lambda_app.clients.tls`).

ElastiCache in transit and RDS Proxy are TLS-only, so a new execution environment opens
TLS connections before its first answer. Measured against a TLS-only valkey-server on
loopback (its own CA), connection by connection: the first connection of a process, then
each further new connection (a pool growing under concurrency, a reconnect after a
fault or a SnapStart restore). The same for MySQL against a TLS-only MariaDB (its
own CA, ``require_secure_transport``, as RDS Proxy): PyMySQL handed a new context per
connection, then the process's one.
"""

from __future__ import annotations

import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import valkey

from bench.context import Context, now_utc
from bench.report import Check, Section, Table
from lambda_app.clients.tls import client_context, prewarm
from lambda_app.clients.valkey import build_valkey
from lambda_app.settings import Settings
from scripts import servers

NAME = "tls_connect"
TITLE = "TLS set-up: a context per connection vs one per process"


def _connect_ms(make: Callable[[], Any]) -> float:
    """Open one new connection and ``PING`` over it (handshake included)."""
    began = time.perf_counter()
    client = make()
    began = getattr(client, "began", began)
    client.ping()
    elapsed = (time.perf_counter() - began) * 1000
    client.close()
    return elapsed


def _series(make: Callable[[], Any], runs: int, reset: Callable[[], None]) -> tuple[float, float]:
    """(first connection of a fresh process, median of later new connections) in ms."""
    reset()
    first = _connect_ms(make)
    later = [_connect_ms(make) for _ in range(runs)]
    return first, statistics.median(later)


def _context_ms(build: Callable[[], ssl.SSLContext], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        build()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def run(ctx: Context) -> Section:
    runs = ctx.scaled(30, 5)
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as scratch:
        server = servers.start_valkey_tls(Path(scratch))
        try:
            ca = str(server.ca_file)
            settings = Settings.from_env({
                "VALKEY_HOST": server.host, "VALKEY_PORT": str(server.port),
                "VALKEY_TLS": "true", "VALKEY_CA_FILE": ca,
            }).valkey

            def stock() -> Any:
                return valkey.Valkey(host=server.host, port=server.port, ssl=True,
                                     ssl_cert_reqs="required", ssl_ca_certs=ca)

            before = _series(stock, runs, lambda: None)
            lazy = _series(lambda: build_valkey(settings), runs, client_context.cache_clear)

            def prewarmed() -> None:  # what the API handler does at init
                client_context.cache_clear()
                prewarm(True, ca, False, None)

            after = _series(lambda: build_valkey(settings), runs, prewarmed)
        finally:
            servers.stop(server)
        mysql_rows = _mysql_rows(Path(scratch), runs)
    return _section(ctx, rows=(before, lazy, after), mysql_rows=mysql_rows, runs=runs)


def _mysql_rows(scratch: Path, runs: int) -> tuple[tuple[float, float], ...]:
    import pymysql

    server = servers.start_mysql(scratch / "mysql", tls=servers.make_tls_files(scratch / "my"))
    try:
        own = client_context(server.ca_file, system_roots=True)

        class _Pinged:
            def __init__(self, conn: Any) -> None:
                self.conn = conn

            def ping(self) -> None:
                self.conn.ping(reconnect=False)

            def close(self) -> None:
                self.conn.close()

        def system_store_and(ca: str | None) -> ssl.SSLContext:
            # RDS Proxy's certificate chains to public roots: each connection loaded the
            # system store (plus, here, the local CA that signed this server).
            context = ssl.create_default_context()
            context.load_verify_locations(ca)
            return context

        def stock() -> Any:
            began = time.perf_counter()  # PyMySQL connects in its constructor
            conn = pymysql.connect(host=server.host, port=server.port, user=server.user,
                                   password=server.password,
                                   ssl=system_store_and(server.ca_file))
            return _Timed(_Pinged(conn), began)

        def ours() -> Any:  # the app's connect(), on the process's one context
            began = time.perf_counter()
            conn = pymysql.connect(host=server.host, port=server.port, user=server.user,
                                   password=server.password, ssl=own)
            return _Timed(_Pinged(conn), began)

        def prewarmed() -> None:
            client_context.cache_clear()
            client_context(server.ca_file, system_roots=True)  # built once, at init

        return (_series(stock, runs, lambda: None), _series(ours, runs, prewarmed))
    finally:
        servers.stop(server)


class _Timed:
    """A connection opened in its constructor: its ping's time counts from then."""

    def __init__(self, inner: Any, began: float) -> None:
        self.inner, self.began = inner, began

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()


def _section(ctx: Context, *, rows: tuple[tuple[float, float], ...],
             mysql_rows: tuple[tuple[float, float], ...], runs: int) -> Section:
    before, _, after = rows
    labels = ("a context per connection (valkey-py's SSLConnection)",
              "one context per process, built by the first connection",
              "one context per process, built at init (the API handler)")
    table = Table(
        ("Valkey over TLS (loopback)", "first connection ms", "each later new connection ms"),
        tuple((label, f"{first:.2f}", f"{later:.2f}")
              for label, (first, later) in zip(labels, rows, strict=True)),
        align="lrr",
    )
    contexts = Table(
        ("MySQL over TLS (loopback)", "first connection ms", "each later new connection ms"),
        tuple((label, f"{first:.2f}", f"{later:.2f}") for label, (first, later) in zip(
            ("a context per connection (system store + CA)",
             "one context per process, built at init (lambda_app.clients.tls)"),
            mysql_rows, strict=True)),
        align="lrr",
    )
    saved = before[1] - after[1]
    return Section(
        name=NAME, title=TITLE, tables=(table, contexts), quick=ctx.quick, date=now_utc(),
        headline=f"first TLS connection {before[0]:.1f} -> {after[0]:.1f} ms, later ones "
                 f"{before[1]:.1f} -> {after[1]:.1f} ms",
        checks=(Check("the first request's TLS connect, context built at init",
                      f"{before[0]:.2f} -> {after[0]:.2f} ms; later new connections "
                      f"{before[1]:.2f} -> {after[1]:.2f} ms ({saved:.1f} ms saved)",
                      "faster than a context per connection",
                      after[0] < before[0] and after[1] < before[1]),),
        notes=(
            f"Each connection opens a socket, completes the TLS handshake and answers one "
            f"`PING`; medians of {runs} new connections after the first. A context per "
            "connection pays for parsing the CA bundle on every connection; one per "
            "process pays once, in the first connection, or during init where the API "
            "handler builds it (`lambda_app.clients.tls.prewarm`; inside a SnapStart "
            "snapshot, at no cost on restore). Certificates are verified in every row "
            "(the server's own CA file, `CERT_REQUIRED`).",
        ),
    )
