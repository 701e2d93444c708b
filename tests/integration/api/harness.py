"""Running the real API handler against the fixture servers: environment, events, calls.

Shared by the handler tests (``tests/integration/api``) and the HTTP tests
(``tests/e2e``): both point the process-wide settings at the test servers through the
environment, exactly as Lambda and ``make serve`` do, and reset every process-wide
cache (settings, clients, services) when that environment changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_app.data.migrations import migrate
from lambda_app.data.seed import seed
from lambda_app.services.lifecycle import environment, reset_runtime
from scripts import servers
from scripts.serve import LOCAL_OPERATOR_ARN, LambdaContext, build_event, response_parts

#: Operators of the tests: one IAM user per test (its ``caller``), one rate limit each.
OPERATOR_ARN_PREFIX = "arn:aws:iam::000000000000:user/"

#: A small catalogue: enough for top-N, warming and fuzzing, loaded in well under 1 s.
SEED_SIZES = {"products": 200, "users": 50, "orders": 500}

#: What the API sees besides the server endpoints. The limit is high enough that no
#: test trips it by accident (each test also uses its own X-Api-Key) and low enough
#: for the ops smoke test to exhaust (it refuses limits over 2000).
BASE_ENV = {
    "CACHE_PREFIX": "apitest",
    "RATE_LIMIT_REQUESTS": "100",
    "RATE_LIMIT_WINDOW": "60",
    # Many tests log in from the harness's one address; the limit's own test sets 3.
    "LOGIN_RATE_LIMIT_REQUESTS": "1000",
    "POWERTOOLS_SERVICE_NAME": "api-test",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LOG_LEVEL": "CRITICAL",
}


def api_database(mysql_server: servers.MysqlServer, name: str) -> servers.MysqlServer:
    """A database of its own (others' fixtures truncate the default one), seeded small."""
    server = servers.create_database(mysql_server, f"{mysql_server.database}_{name}")
    conn = servers.mysql_connect(server)
    try:
        migrate(conn)
        seed(conn, progress=False, **SEED_SIZES)
    finally:
        conn.close()
    return server


def api_env(
    valkey_server: servers.ValkeyServer, mysql_server: servers.MysqlServer, **overrides: str
) -> dict[str, str]:
    """The handler's environment: it serves as the restricted user the migrator creates
    on AWS (row access, read-only ledger), never as the database's owner."""
    runtime = servers.grant_runtime_user(mysql_server)
    return {**servers.env_for(valkey_server, runtime, admin=mysql_server), **BASE_ENV,
            **overrides}


@dataclass(frozen=True)
class Answer:
    """A handler's response, decoded."""

    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def event(
    method: str,
    target: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    api_key: str | None = None,
    source_ip: str = "198.51.100.7",
    signed: bool = True,
) -> dict[str, Any]:
    """A real HTTP API v2 event (the local server's builder), JSON body by default.

    ``signed`` (the default, as ``make serve`` does) carries a SigV4-verified operator
    principal; ``api_key`` names that principal, so each test counts against its own
    rate limit. ``signed=False`` is an anonymous caller, known by ``source_ip`` only.
    """
    sent = dict(headers or {})
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    if data and not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    principal = None
    if signed:
        principal = f"{OPERATOR_ARN_PREFIX}{api_key}" if api_key else LOCAL_OPERATOR_ARN
    return build_event(
        method=method,
        target=target,
        headers=list(sent.items()),
        body=data,
        source_ip=source_ip,
        host="api.test",
        principal=principal,
    )


def invoke(event_: Mapping[str, Any]) -> Answer:
    """Call the Lambda handler exactly as API Gateway would, and decode its answer."""
    from lambda_app.handlers.api import handler

    result = handler(dict(event_), LambdaContext())
    status, headers, body = response_parts(result)
    return Answer(status, {name.lower(): value for name, value in headers}, body)


def call(method: str, target: str, body: Any = None, **options: Any) -> Answer:
    return invoke(event(method, target, body, **options))


__all__ = ["environment", "reset_runtime"]
