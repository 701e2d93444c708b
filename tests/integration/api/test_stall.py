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
from tests.integration.api.harness import Answer, api_env, call, environment
from tests.integration.api.test_faults import own_valkey  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration

#: What the stall costs must stay under: the cache budget, plus the database's own time.
SLACK_SECONDS = 0.5


class _Served:
    """The same requests over HTTP, through the local server ``make serve`` runs."""

    def __init__(self) -> None:
        from lambda_app.handlers.api import handler
        from scripts.ops.http import HttpClient
        from scripts.serve import start_in_thread

        self.server, self.thread = start_in_thread(handler, port=0)
        self.client = HttpClient(f"http://127.0.0.1:{self.server.server_address[1]}",
                                 timeout=120)

    def call(self, method: str, path: str, body: object = None, **_: object) -> Answer:
        answer = self.client.request(method, path, json_body=body)
        return Answer(answer.status, {k.lower(): v for k, v in answer.headers.items()},
                      answer.body)

    def close(self) -> None:
        self.client.close()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.mark.parametrize(("near", "via"), [("", "handler"), ("product", "handler"),
                                           ("", "http")],
                         ids=["resp2", "resp3-near-cache", "served-http"])
def test_killed_connections_then_a_frozen_server_cost_no_request_a_minute(
    own_valkey, api_database_server, caller, near, via  # noqa: F811
):
    env = api_env(own_valkey, api_database_server, VALKEY_TIMEOUT="0.3",
                  VALKEY_CONNECT_TIMEOUT="0.3", VALKEY_RETRIES="2",
                  VALKEY_HEALTH_CHECK_INTERVAL="1", NEAR_CACHE_CLASSES=near,
                  CACHE_BREAKER_FAILURES="3", CACHE_BREAKER_COOLDOWN="60")
    with environment(env):
        served = _Served() if via == "http" else None
        ask = served.call if served is not None else call
        budget = request_budget_seconds(get_settings().valkey)
        for n in (1, 2, 3):
            assert ask("GET", f"/products/{n}", api_key=caller).status == 200  # connected
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
                answers.append(ask("GET", f"/products/{n}", api_key=caller))
                timings.append(time.monotonic() - began)
            session = ask("POST", "/sessions", {"email": "user00001@example.com",
                                                 "password": "valkey-demo-password"},
                          signed=False, source_ip="192.0.2.99")
        finally:
            os.kill(own_valkey.pid, signal.SIGCONT)
            if served is not None:
                served.close()
        from lambda_app.services import get_services

        breaker = get_services().cache.breaker
    statuses = [answer.status for answer in answers]
    assert 500 not in statuses, statuses
    assert statuses.count(503) <= 2, statuses  # the database answers the reads
    assert session.status in (201, 503), session.body
    assert max(timings) <= budget + SLACK_SECONDS, (timings, budget)
    assert breaker.state == "open"
    assert sum(timings[3:]) < 1.0, timings  # once open, the stall costs nothing
