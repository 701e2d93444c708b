"""Real servers stopped, restarted and hung under the API handler, in one process.

* MySQL stopped for longer than the idle-ping window, then started again: during the
  outage cached reads still answer and everything else is a 503 with ``Retry-After``;
  after it, every request on the same process succeeds, with no restart.
* Valkey frozen with SIGSTOP: the shared circuit breaker (the rate limiter included)
  opens after a few timeouts, so the rest of the stall costs no request a timeout.

The servers here are private to this module: stopping the session's would break others.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_app.clients import mysql as mysql_client
from scripts import servers
from tests.integration.api.harness import api_database, api_env, call, environment

pytestmark = pytest.mark.integration

#: Short enough for a test to outlast it; the production value is 30 s.
IDLE_WINDOW = 0.5


@pytest.fixture
def own_mysql(tmp_path: Path) -> Iterator[tuple[servers.MysqlServer, Path]]:
    state_dir = tmp_path / "mysql"
    try:
        server = servers.start_mysql(state_dir)
    except servers.ServerError as exc:
        pytest.fail(f"MySQL for the fault tests: {exc}", pytrace=False)
    try:
        yield server, state_dir
    finally:
        servers.stop(server)
        # a test that restarted it left a new pid: stop whatever the pid file names now
        pidfile = state_dir / "mysqld.pid"
        pid = pidfile.read_text().strip() if pidfile.exists() else ""
        if pid.isdigit():
            servers.terminate(int(pid), programs=servers.MYSQL_PROGRAMS)


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[servers.ValkeyServer]:
    try:
        server = servers.start_valkey(tmp_path / "valkey")
    except servers.ServerError as exc:
        pytest.fail(f"Valkey for the fault tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        if server.pid:
            os.kill(server.pid, signal.SIGCONT)  # a frozen server cannot stop
        servers.stop(server)


def test_a_database_outage_longer_than_the_idle_window_heals_without_a_restart(
    own_mysql, valkey_server, valkey, monkeypatch
) -> None:
    monkeypatch.setattr(mysql_client, "IDLE_PING_SECONDS", IDLE_WINDOW)
    first, state_dir = own_mysql
    database = api_database(first, "faults")
    with environment(api_env(valkey_server, database)):
        assert call("GET", "/health").status == 200
        assert call("GET", "/products/1").status == 200  # cached from here on

        servers.stop(first)
        unknown = call("GET", "/products/2")  # a miss: the query fails, its connection closes
        assert unknown.status == 503, unknown.body
        assert unknown.header("Retry-After")
        time.sleep(IDLE_WINDOW * 2)  # the next request pings a connection that is closed
        during = {path: call("GET", path) for path in ("/health", "/products/1", "/products/3")}
        assert during["/health"].status == 503
        assert (during["/health"].body["db"], during["/health"].body["cache"]) == ("down", "ok")
        assert (during["/products/1"].status, during["/products/1"].header("X-Cache")) == (
            200, "HIT")
        assert during["/products/3"].status == 503
        assert during["/products/3"].body["error"] == "unavailable"

        servers.start_mysql(state_dir, port=first.port)
        time.sleep(IDLE_WINDOW * 2)
        after = [
            call("GET", "/health"),
            call("GET", "/products/2"),
            call("GET", "/products/3"),
            call("POST", "/products", {"name": "after the outage", "price": 3}),
            call("GET", "/stats/dashboard"),
        ]
        assert [answer.status for answer in after] == [200, 200, 200, 201, 200], [
            answer.body for answer in after]


def test_a_database_without_the_schema_says_how_to_fix_it(own_mysql, valkey_server, valkey):
    """Tables dropped under a running app (its user keeps the database's grants): the
    serving user of a fresh database has none until the migrator grants them."""
    server, _ = own_mysql
    as_owner = {**api_env(valkey_server, server), "DB_USER": server.user,
                "DB_PASSWORD": server.password}
    with environment(as_owner):
        answer = call("GET", "/products/1")
    assert answer.status == 503
    assert answer.body["error"] == "unavailable"
    assert "migrations" in answer.body["message"]
    with environment(as_owner):
        health = call("GET", "/health")
    assert (health.status, health.body["db"], health.body["cache"]) == (503, "unmigrated", "ok")
    assert "migrations" in health.body["message"]


def test_a_hung_cache_costs_a_few_timeouts_then_none(own_valkey, api_database_server) -> None:
    """SIGSTOP: connections stay open and every call waits out the socket timeout, the
    worst kind of outage. Every Valkey call of a request goes through one breaker."""
    env = api_env(own_valkey, api_database_server, VALKEY_TIMEOUT="0.3",
                  VALKEY_CONNECT_TIMEOUT="0.3", VALKEY_RETRIES="0",
                  CACHE_BREAKER_FAILURES="3", CACHE_BREAKER_COOLDOWN="30")
    with environment(env):
        assert call("GET", "/products/1").status == 200  # connections made while up
        assert own_valkey.pid
        os.kill(own_valkey.pid, signal.SIGSTOP)
        try:
            slow, answers = 0, []
            for n in range(1, 21):
                began = time.monotonic()
                answers.append(call("GET", f"/products/{n}"))
                slow += time.monotonic() - began >= 0.25
        finally:
            os.kill(own_valkey.pid, signal.SIGCONT)
        from lambda_app.services import get_services

        breaker = get_services().cache.breaker
    assert [a.status for a in answers] == [200] * 20
    assert {a.header("X-Cache-Source") for a in answers[5:]} == {"bypass"}
    # The limiter fails open and says so: the whole allowance is left.
    assert {a.header("RateLimit-Remaining") for a in answers[5:]} == {"100"}
    assert breaker.state == "open"
    # The threshold's worth of timeouts opens the breaker; no request after pays one.
    assert slow <= 3, f"{slow} of 20 requests waited out a Valkey timeout"
