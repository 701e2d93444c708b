"""The miss path's cost on the wire, and XFetch's one early recompute at a time.

Round trips are counted where they happen: a valkey-py connection class that counts the
commands it sends to the real server (a script call is one command, one round trip).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import valkey as valkey_py

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("app")


class CountingConnection(valkey_py.Connection):
    """A real connection that counts the commands it sends."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


@pytest.fixture
def counted(valkey_server: Any, valkey: Any) -> Iterator[valkey_py.Valkey]:
    """A client on the flushed test server (``valkey``) whose sends are counted."""
    pool = valkey_py.ConnectionPool(
        connection_class=CountingConnection,
        host=valkey_server.host,
        port=valkey_server.port,
        password=valkey_server.password,
    )
    client = valkey_py.Valkey(connection_pool=pool)
    client.ping()  # connect first: a new connection also sends CLIENT SETINFO
    yield client
    client.close()


def round_trips(action: Any) -> int:
    before = CountingConnection.sent
    action()
    return CountingConnection.sent - before


@pytest.mark.parametrize("shape", ["string", "hash"])
def test_a_locked_leased_miss_is_the_read_plus_two_round_trips(counted, shape):
    lease = shape == "string"  # leases use the string layout
    policies = {**DEFAULT_POLICIES, "product": ClassPolicy("lock", shape=shape, lease=lease)}
    cache = CacheAside(counted, keys=KEYS, policies=policies)
    cache.get("product", KEYS.key("product", 0), lambda: {"id": 0})  # loads the scripts

    key = KEYS.key("product", 1)
    trips = round_trips(lambda: cache.get("product", key, lambda: {"id": 1, "name": "a"}))
    # GET (the miss), the claim (re-read, lock, lease), the fill (store, release both).
    assert trips == 3
    assert counted.exists(KEYS.companion(key, "lock"), KEYS.companion(key, "lease")) == 0
    assert round_trips(lambda: cache.get("product", key, lambda: None)) == 1  # the hit


def test_a_plain_miss_is_the_read_plus_one_write(counted):
    cache = CacheAside(counted, keys=KEYS)
    key = KEYS.key("static", "menu")
    assert round_trips(lambda: cache.get("static", key, lambda: ["a"])) == 2


def test_one_early_recompute_at_a_time(valkey):
    """Every reader is told to recompute early (a huge beta); only the one holding the
    lock does, while the others keep serving the value that is still there."""
    cache = CacheAside(valkey, keys=KEYS, xfetch_beta=1e9)
    key = KEYS.key("price", 1)
    cache.get("price", key, lambda: 1)
    in_flight, most, loads = 0, 0, 0
    guard = threading.Lock()

    def slow_load() -> int:
        nonlocal in_flight, most, loads
        with guard:
            in_flight += 1
            loads += 1
            most = max(most, in_flight)
        time.sleep(0.05)
        with guard:
            in_flight -= 1
        return 2

    sources: list[str] = []

    def reader() -> None:
        for _ in range(20):
            sources.append(cache.get("price", key, slow_load).source)

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == 1
    assert loads >= 1
    assert sources.count("cache") == len(sources) - loads
    assert cache.stats()["classes"]["price"]["early_recomputes"] == loads
