"""A hung cache under the real API handler: latency before, during and after a 5 s SIGSTOP.

A stopped (not killed) valkey-server is the worst outage for a client: connections stay
open and every call waits out its socket timeout. The handler runs in this process
against a valkey-server of its own (:mod:`bench.scratch_server`) and the benchmarks' database;
one caller reads products in a loop while the server is frozen for ``STALL_S`` seconds.
With every Valkey call of a request behind the shared circuit breaker (the rate limiter
included), the stall costs the threshold's few timeouts, then reads go straight to
MySQL until the breaker's half-open trial finds the server back.

The second scenario first kills the handler's connections (``CLIENT KILL TYPE normal``),
waits until they are due a health check, then freezes the server: every reconnect then
completes in the kernel and waits out its read. valkey-py's health check used to recurse
through those reconnects (about a minute, then a ``RecursionError`` and a 500); each
request now waits for at most one cache call (``lambda_app.caching.budget``).
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass

from bench.context import Context, now_utc
from bench.report import Check, Section, Table
from bench.scratch_server import scratch_valkey
from lambda_app.services.lifecycle import environment

NAME = "faults"
TITLE = "A hung cache (SIGSTOP) under the API handler: latency through the stall"
STALL_S = 5.0
BEFORE_S = AFTER_S = 1.0
TIMEOUT_S = 0.5  # VALKEY_TIMEOUT, the shipped default
P50_TARGET_MS = 100.0


@dataclass(frozen=True)
class Phase:
    name: str
    latencies_ms: list[float]
    failures: int

    def quantile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]


def _drive(seconds: float, name: str) -> Phase:
    from lambda_app.handlers.api import handler
    from scripts.lambda_events import LambdaContext, build_event, response_parts

    latencies, failures, n = [], 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n += 1
        event = build_event(method="GET", target=f"/products/{1 + n % 200}", headers=[],
                            body=b"", source_ip="192.0.2.1", host="bench")
        began = time.perf_counter()
        status, _, _ = response_parts(handler(event, LambdaContext()))
        latencies.append((time.perf_counter() - began) * 1000)
        failures += status != 200
    return Phase(name, latencies, failures)


def run(ctx: Context) -> Section:
    ctx.db  # noqa: B018 - the benchmarks' database, migrated and seeded
    phases = _scenario(ctx, killed=False) + _scenario(ctx, killed=True)[1:]
    return _section(ctx, phases)


def _scenario(ctx: Context, *, killed: bool) -> list[Phase]:
    db = ctx.settings.db
    with scratch_valkey() as (server, client):
        env = {
            "VALKEY_URL": server.url, "VALKEY_CLUSTER": "false",
            "DB_HOST": db.host, "DB_PORT": str(db.port), "DB_NAME": db.name,
            "DB_USER": db.user or "root", "DB_PASSWORD": db.password or "",
            "CACHE_PREFIX": "benchfaults", "RATE_LIMIT_REQUESTS": "1000000",
            "VALKEY_TIMEOUT": str(TIMEOUT_S), "LOG_LEVEL": "CRITICAL",
            "VALKEY_HEALTH_CHECK_INTERVAL": "1",
        }
        label = "killed connections, then a" if killed else "a"
        with environment(env):  # the handler's settings, clients and services: reset after
            before = _drive(BEFORE_S, "before (cache up)")
            if killed:
                client.execute_command("CLIENT", "KILL", "TYPE", "normal")
                time.sleep(1.1)  # every idle connection is now due a health check
            assert server.pid is not None
            os.kill(server.pid, signal.SIGSTOP)
            try:
                stall = _drive(STALL_S, f"during {label} {STALL_S:g} s stall")
            finally:
                os.kill(server.pid, signal.SIGCONT)
            after = _drive(AFTER_S, "after (cache back)")
    return [before, stall, after]


def _section(ctx: Context, phases: list[Phase]) -> Section:
    rows = tuple(
        (p.name, f"{len(p.latencies_ms):,}", f"{p.quantile(50):.2f}", f"{p.quantile(99):.2f}",
         f"{max(p.latencies_ms):.0f}", str(sum(ms >= TIMEOUT_S * 1000 * 0.8
                                             for ms in p.latencies_ms)), str(p.failures))
        for p in phases
    )
    table = Table(("phase", "requests", "p50 ms", "p99 ms", "max ms", "waited a timeout",
                   "non-200"), rows, align="lrrrrrr")
    stall, killed = phases[1], phases[3]
    p50 = stall.quantile(50)
    worst_ms = max(killed.latencies_ms)
    budget_ms = TIMEOUT_S * 2 * 3 * 1000 + 2 * 500  # (connect + read) x 3 attempts + backoff
    return Section(
        name=NAME, title=TITLE, tables=(table,), quick=ctx.quick, date=now_utc(),
        headline=f"p50 during the stall {p50:.2f} ms, {stall.failures} failed",
        checks=(
            Check("p50 during a 5 s hung cache, breaker open", f"{p50:.2f} ms",
                  f"< {P50_TARGET_MS:g} ms", p50 < P50_TARGET_MS),
            Check("slowest request when the stall hits reconnecting clients",
                  f"{worst_ms:.0f} ms, {killed.failures} non-200",
                  f"≤ {budget_ms:.0f} ms (one cache call's timeouts), all 200",
                  worst_ms <= budget_ms and killed.failures == 0),
        ),
        notes=(
            "One caller, `GET /products/{id}` through `lambda_app.handlers.api.handler` "
            f"in process, Valkey socket timeout {TIMEOUT_S:g} s, breaker defaults (3 "
            "failures, 5 s cool-down). \"Waited a timeout\" counts requests that took at "
            "least 80% of the socket timeout.",
        ),
    )
