"""Service-layer fixtures: the real service container over the session's servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_app.services import Services, build_services
from lambda_app.settings import Settings
from scripts import servers


def closed_port() -> int:
    """A loopback port nothing listens on (a server that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(valkey_server: Any, mysql_server: Any, **overrides: str) -> Settings:
    return Settings.from_env({**servers.env_for(valkey_server, mysql_server), **overrides})


@pytest.fixture
def services(valkey, db, valkey_server, mysql_server) -> Iterator[Services]:
    """Fresh services (own metrics) on a flushed Valkey and emptied tables."""
    built = build_services(settings_for(valkey_server, mysql_server))
    yield built
    built.close()


@pytest.fixture
def cluster_services(cluster_client, db, valkey_cluster, mysql_server) -> Iterator[Services]:
    """The same over the 3-node cluster (VALKEY_CLUSTER=true)."""
    built = build_services(settings_for(valkey_cluster, mysql_server))
    yield built
    built.close()


@pytest.fixture(params=["standalone", "cluster"])
def any_services(request) -> Services:
    chosen: Services = request.getfixturevalue(
        "services" if request.param == "standalone" else "cluster_services"
    )
    return chosen


@pytest.fixture
def db_down_services(valkey, db, valkey_server, mysql_server) -> Iterator[Services]:
    """Services whose database does not answer (connection refused); Valkey is up."""
    built = build_services(
        settings_for(
            valkey_server, mysql_server, DB_PORT=str(closed_port()), DB_CONNECT_TIMEOUT="0.5"
        )
    )
    yield built
    built.close()


@pytest.fixture
def cache_down_services(db, valkey_server, mysql_server) -> Iterator[Services]:
    """Services whose Valkey does not answer (connection refused); the database is up."""
    built = build_services(
        settings_for(
            valkey_server,
            mysql_server,
            VALKEY_URL=f"valkey://127.0.0.1:{closed_port()}",
            VALKEY_CONNECT_TIMEOUT="0.2",
            VALKEY_RETRIES="0",
        )
    )
    yield built
    built.close()
