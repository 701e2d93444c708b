"""Servers down: 503 naming what is down, nothing cached from a failed write, and reads
that keep working on whichever server is still up.

"Down" is a real closed port (nothing listens there), not a mock.
"""

from __future__ import annotations

import time

import pytest

from scripts import servers
from tests.integration.api.harness import call, environment

pytestmark = pytest.mark.integration


def _app_keys(valkey) -> set[bytes]:
    """Cached entries of the API (rate-limit and login counters left out)."""
    return {key for key in valkey.scan_iter(match=b"apitest:*")
            if b":rl:" not in key and b":login:" not in key}


@pytest.fixture
def database_down(api):
    closed = {"DB_PORT": str(servers.free_port()), "DB_CONNECT_TIMEOUT": "0.5"}
    with environment({**api, **closed}):
        yield


@pytest.fixture
def cache_down(api):
    port = servers.free_port()
    closed = {"VALKEY_URL": f"valkey://127.0.0.1:{port}", "VALKEY_PORT": str(port),
              "VALKEY_CONNECT_TIMEOUT": "0.2", "VALKEY_RETRIES": "0"}
    with environment({**api, **closed}):
        yield


def test_health_names_the_database_when_it_is_down(database_down) -> None:
    answer = call("GET", "/health")
    assert answer.status == 503
    assert answer.body == {"error": "unavailable", "message": "db down", "cache": "ok",
                           "db": "down"}


def test_health_names_the_cache_when_it_is_down(cache_down) -> None:
    answer = call("GET", "/health")
    assert answer.status == 503
    assert (answer.body["cache"], answer.body["db"], answer.body["error"]) == (
        "down", "ok", "unavailable",
    )


def test_health_is_ok_when_both_answer(api) -> None:
    answer = call("GET", "/health")
    assert (answer.status, answer.body) == (200, {"cache": "ok", "db": "ok"})


def test_a_write_with_the_database_down_is_503_and_caches_nothing(api, valkey, caller) -> None:
    assert call("GET", "/products/4", api_key=caller).status == 200  # cached while up
    before = _app_keys(valkey)
    cached = valkey.get(b"apitest:product:4")
    with environment({**api, "DB_PORT": str(servers.free_port()), "DB_CONNECT_TIMEOUT": "0.5"}):
        for method, path, body in (
            ("POST", "/users", {"name": "x", "email": "down@example.com",
                                "password": "a long enough password"}),
            ("POST", "/products", {"name": "x", "price": 1}),
            ("PATCH", "/products/4", {"name": "never stored"}),
            ("DELETE", "/products/4", None),
            ("POST", "/sessions", {"email": "user00001@example.com",
                                   "password": "valkey-demo-password"}),
        ):
            answer = call(method, path, body, api_key=caller)
            assert answer.status == 503, (method, path, answer.body)
            assert answer.body["error"] == "unavailable"
            assert "127.0.0.1" not in answer.body["message"]  # no endpoints leak
        # cache-aside keeps answering from the cache while the database is down
        read = call("GET", "/products/4", api_key=caller)
        assert (read.status, read.header("X-Cache")) == (200, "HIT")
        assert read.body["name"] != "never stored"
    assert _app_keys(valkey) == before
    assert valkey.get(b"apitest:product:4") == cached


def test_reads_bypass_a_dead_cache_to_the_database(cache_down, caller) -> None:
    answer = call("GET", "/products/2", api_key=caller)
    assert (answer.status, answer.header("X-Cache")) == (200, "MISS")
    assert answer.header("X-Cache-Source") == "bypass"
    assert answer.header("RateLimit-Limit") == "100"  # the limiter fails open
    admin = call("POST", "/cache/warm", {"products_top": 3}, api_key=caller)
    assert admin.status == 503
    assert admin.body == {"error": "unavailable",
                          "message": "cache unavailable; try again shortly"}


def test_health_asks_the_servers_at_most_once_a_second(api, valkey) -> None:
    """/health is public and unlimited: a flood of it must not become a flood of PINGs."""
    def pings() -> int:
        return int(valkey.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    assert call("GET", "/health", signed=False).status == 200  # connections made
    before = pings()
    began = time.monotonic()
    answers = [call("GET", "/health", signed=False) for _ in range(50)]
    seconds = time.monotonic() - began
    assert {answer.status for answer in answers} == {200}
    assert pings() - before <= 1 + int(seconds)
