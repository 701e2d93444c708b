"""TLS set-up at cold start: a new connection's cost with a context per connection
(valkey-py's own ``SSLConnection``, and what PyMySQL was handed) and with one context
per process (:mod:`lambda_app.clients.tls`).

ElastiCache in transit and RDS Proxy are TLS-only, so a new execution environment opens
TLS connections before its first answer. Measured against a TLS-only valkey-server on
loopback (its own CA), connection by connection: the first connection of a process, then
each further new connection (a pool growing under concurrency, a reconnect after a
fault or a SnapStart restore). The MySQL side is the context alone (this machine's
MySQL-compatible server runs without TLS here): the same ``create_default_context``
PyMySQL's connections paid for each.
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
    client = make()
    began = time.perf_counter()
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
    per_context = _context_ms(ssl.create_default_context, runs)
    cached = _context_ms(lambda: client_context(None), runs)
    return _section(ctx, rows=(before, lazy, after), per_context=per_context, cached=cached,
                    runs=runs)


def _section(ctx: Context, *, rows: tuple[tuple[float, float], ...], per_context: float,
             cached: float, runs: int) -> Section:
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
        ("MySQL (PyMySQL's ssl=)", "per connection ms"),
        (("ssl.create_default_context() each time", f"{per_context:.2f}"),
         ("the process's context, cached", f"{cached:.3f}")),
        align="lr",
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
