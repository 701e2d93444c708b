"""A cache that hangs while the app reconnects: the worst Valkey fault there is.

The app's connections are killed (``CLIENT KILL TYPE normal``), then valkey-server is
frozen (SIGSTOP) for longer than every timeout. The kernel still completes new TCP
connections, so every reconnect "succeeds" and then waits out its read timeout; a
health check run inside the connect used to recurse through reconnects until Python's
recursion limit (about a minute, then a 500). Every request must answer within the
request's cache budget, from the database (200) or with a 503, never a 500, and the
breaker must open.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from lambda_app.caching.budget import request_budget_seconds
from lambda_app.settings import get_settings
from scripts import servers
from tests.integration.api.harness import api_env, call, environment
from tests.integration.api.test_faults import own_valkey  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration

#: What the stall costs must stay under: the cache budget, plus the database's own time.
SLACK_SECONDS = 0.5


@pytest.mark.parametrize("near", ["", "product"], ids=["resp2", "resp3-near-cache"])
def test_killed_connections_then_a_frozen_server_cost_no_request_a_minute(
    own_valkey, api_database_server, caller, near  # noqa: F811
):
    env = api_env(own_valkey, api_database_server, VALKEY_TIMEOUT="0.3",
                  VALKEY_CONNECT_TIMEOUT="0.3", VALKEY_RETRIES="2",
                  VALKEY_HEALTH_CHECK_INTERVAL="1", NEAR_CACHE_CLASSES=near,
                  CACHE_BREAKER_FAILURES="3", CACHE_BREAKER_COOLDOWN="60")
    with environment(env):
        budget = request_budget_seconds(get_settings().valkey)
        for n in (1, 2, 3):
            assert call("GET", f"/products/{n}", api_key=caller).status == 200  # connected
        admin = servers.valkey_client(own_valkey)
        try:
            admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
        finally:
            admin.close()
        time.sleep(1.1)  # the idle connections are now due a health check
        assert own_valkey.pid
        os.kill(own_valkey.pid, signal.SIGSTOP)
        try:
            timings, answers = [], []
            for n in range(1, 9):
                began = time.monotonic()
                answers.append(call("GET", f"/products/{n}", api_key=caller))
                timings.append(time.monotonic() - began)
            session = call("POST", "/sessions", {"email": "user00001@example.com",
                                                  "password": "valkey-demo-password"},
                           signed=False, source_ip="192.0.2.99")
        finally:
            os.kill(own_valkey.pid, signal.SIGCONT)
        from lambda_app.services import get_services

        breaker = get_services().cache.breaker
    statuses = [answer.status for answer in answers]
    assert 500 not in statuses, statuses
    assert statuses.count(503) <= 2, statuses  # the database answers the reads
    assert session.status in (201, 503), session.body
    assert max(timings) <= budget + SLACK_SECONDS, (timings, budget)
    assert breaker.state == "open"
    assert sum(timings[3:]) < 1.0, timings  # once open, the stall costs nothing
