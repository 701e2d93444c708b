"""Graceful degradation with a real valkey-server that dies (or freezes) mid-run.

The test starts its own server on a free port, keeps reading products through the
cache, and meanwhile either kills the server and starts it again on the same port, or
freezes it (SIGSTOP: connections hang, every call times out) and thaws it. Every read
must succeed (from the database while the cache is gone), the breaker must keep the
cost to about one failed cache call per cool-down, and close again by itself.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import valkey

from lambda_app.caching.breaker import BreakerState, CircuitBreaker
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.data.repositories import ProductRepository
from scripts import servers

pytestmark = pytest.mark.integration

keys = KeyBuilder("app")
FAILURES = 3
COOLDOWN_S = 0.5
OUTAGE_S = 1.5
TIMEOUT_S = 0.2
GIVE_UP_S = 20.0


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A valkey-server only this test uses; the dict tracks restarts."""
    state: dict[str, Any] = {
        "server": servers.start_valkey(tmp_path / "valkey"), "dir": tmp_path / "valkey"
    }
    yield state
    server = state["server"]
    if server.pid is not None and servers.pid_alive(server.pid):
        os.kill(server.pid, signal.SIGCONT)  # a frozen server cannot handle SIGTERM
    servers.stop(server)


def kill_and_restart(state: dict[str, Any]) -> tuple[Callable[[], None], Callable[[], None]]:
    server = state["server"]

    def fail() -> None:
        os.kill(server.pid, signal.SIGKILL)
        while servers.pid_alive(server.pid):
            time.sleep(0.01)

    def recover() -> None:
        state["server"] = servers.start_valkey(state["dir"], port=server.port)

    return fail, recover


def freeze_and_thaw(state: dict[str, Any]) -> tuple[Callable[[], None], Callable[[], None]]:
    pid = state["server"].pid
    return (lambda: os.kill(pid, signal.SIGSTOP)), (lambda: os.kill(pid, signal.SIGCONT))


@pytest.mark.parametrize("outage", [kill_and_restart, freeze_and_thaw], ids=["killed", "frozen"])
def test_reads_survive_an_outage_and_the_breaker_closes_by_itself(own_server, db, outage):
    server = own_server["server"]
    products = ProductRepository(lambda: db)
    ids = [int(products.create(name=f"p{i}", price=Decimal("1.00") + i)["id"]) for i in range(20)]
    client = valkey.Valkey(
        host=server.host, port=server.port,
        socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S,
    )
    breaker = CircuitBreaker(FAILURES, COOLDOWN_S)
    cache = CacheAside(client, breaker=breaker)
    sources: list[str] = []

    def read(n: int) -> None:
        product_id = ids[n % len(ids)]
        look = cache.get("product", keys.key("product", product_id),
                         lambda: products.get(product_id))
        assert look.found and look.value["id"] == product_id  # every read succeeds
        sources.append(look.source)

    for n in range(100):  # warm: the cache serves
        read(n)
    assert sources[-50:] == ["cache"] * 50

    fail, recover = outage(own_server)
    errors_before = cache.stats()["classes"]["product"]["errors"]
    fail()
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < OUTAGE_S:
        read(n)
        n += 1
        time.sleep(0.002)
    outage_s = time.monotonic() - began
    recover()
    errors = cache.stats()["classes"]["product"]["errors"] - errors_before
    during = sources[100:]
    assert during.count("bypass") > len(during) // 2  # served by the database
    # At most the threshold plus one failed trial per cool-down, not one per read.
    assert errors <= FAILURES + math.ceil(outage_s / COOLDOWN_S) + 1, (errors, n)

    deadline = time.monotonic() + GIVE_UP_S
    while breaker.state is not BreakerState.CLOSED or sources[-1] == "bypass":
        assert time.monotonic() < deadline, f"breaker stuck {breaker.snapshot()}"
        read(n)
        n += 1
        time.sleep(0.01)
    for _ in range(2 * len(ids)):  # cache works again: loads once, then hits
        read(n)
        n += 1
    assert sources[-len(ids):] == ["cache"] * len(ids)
    assert breaker.snapshot()["state"] == "closed"
    assert breaker.times_opened >= 1
    print(f"\n{outage.__name__}: {n} reads during/after, {errors} failed cache calls, "
          f"{during.count('bypass')} served by the database")
    client.close()
