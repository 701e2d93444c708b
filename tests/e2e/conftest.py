"""``api_url``: the real API handler served over HTTP on loopback, against test servers.

The handler runs in this process behind ``scripts.serve`` (the local server ``make serve``
uses), with the environment pointing its settings at the session's Valkey and MySQL
servers and at a database of its own, seeded with a small catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scripts import servers
from scripts.serve import start_in_thread
from tests.integration.api.harness import api_database, api_env, environment


@contextmanager
def served_api(
    valkey_server: servers.ValkeyServer,
    mysql_server: servers.MysqlServer,
    name: str,
    *,
    serve: dict[str, Any] | None = None,
    **settings: str,
) -> Iterator[str]:
    """The handler served over HTTP on a database of its own (``<db>_<name>``, seeded
    small), with ``settings`` in its environment; ``serve`` goes to ``start_in_thread``.
    Yields the base URL; the server is stopped and its thread joined afterwards."""
    database = api_database(mysql_server, name)
    with environment(api_env(valkey_server, database, **settings)):
        from lambda_app.handlers.api import handler

        server, thread = start_in_thread(handler, port=0, **(serve or {}))
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.fixture(scope="session")
def api_url(
    valkey_server: servers.ValkeyServer, mysql_server: servers.MysqlServer
) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of the served handler."""
    # One operator (127.0.0.1) runs smoke, warm and load in a row: room for all of them,
    # and still a limit smoke's rate-limit group can exhaust with a user of its own.
    with served_api(valkey_server, mysql_server, "api_e2e", CACHE_PREFIX="e2e",
                    RATE_LIMIT_REQUESTS="1000") as url:
        yield url
