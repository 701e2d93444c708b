"""The API handler against the session's real Valkey and MySQL servers.

``api`` points the process settings at the servers and at a database of the API tests'
own (small seed), with an empty cache for every test; ``caller`` is a fresh
``X-Api-Key`` per test, so rate-limit counts never leak between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scripts import servers
from tests.integration.api.harness import api_database, api_env, environment


@pytest.fixture(scope="session")
def api_database_server(mysql_server: servers.MysqlServer) -> servers.MysqlServer:
    return api_database(mysql_server, "api_it")


@pytest.fixture(scope="session")
def api_environment(
    valkey_server: servers.ValkeyServer, api_database_server: servers.MysqlServer
) -> dict[str, str]:
    return api_env(valkey_server, api_database_server)


@pytest.fixture
def api(api_environment: dict[str, str], valkey: Any) -> Iterator[dict[str, str]]:
    """The environment the handler runs with (cache flushed by ``valkey``)."""
    with environment(api_environment):
        yield api_environment


@pytest.fixture
def caller() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
