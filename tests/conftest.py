"""Real servers for the test suite, started once per session.

Each server is found the way the local stack finds it (scripts/servers.py): an endpoint
in TEST_* variables first (TEST_VALKEY_URL, TEST_DB_HOST/PORT/USER/PASSWORD/NAME,
TEST_VALKEY_CLUSTER_URL, TEST_VALKEY_TLS_URL + TEST_VALKEY_TLS_CA_FILE), then containers
when a Docker engine answers, then local binaries. TEST_ prefixes keep a developer's
exported stack settings (VALKEY_URL, DB_HOST) from pointing the suite - which flushes
and truncates - at their working data. With CI=true a missing server fails the run;
elsewhere the tests that need it are skipped with the reason and how to install it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from lambda_app.data.migrations import migrate
from lambda_app.data.schema import truncate_tables
from lambda_app.data.seed import seed
from lambda_app.settings import Settings
from scripts import servers

T = TypeVar("T")
S = TypeVar("S", servers.ValkeyServer, servers.MysqlServer)

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


#: TEST_SERVER_BACKEND=docker makes the harness start containers or fail (the container
#: suite sets it, so a container that cannot start is not hidden by the binary fallback).
BACKEND = os.environ.get("TEST_SERVER_BACKEND", "auto").strip() or "auto"
if BACKEND not in servers.BACKENDS:
    raise pytest.UsageError(f"TEST_SERVER_BACKEND={BACKEND!r}: expected one of "
                            f"{', '.join(servers.BACKENDS)}")


def _unavailable(what: str, exc: servers.ServerError) -> NoReturn:
    """Skip only when the server is not installed (and not in CI); anything else - an
    endpoint that does not answer, a server that fails to start - is a failure."""
    reason = f"{what} unavailable: {exc}"
    if IN_CI or not isinstance(exc, servers.BinaryNotFound):
        suffix = " (CI=true: real servers are required)" if IN_CI else ""
        pytest.fail(reason + suffix, pytrace=False)
    pytest.skip(reason)


def _provide(what: str, start: Callable[[], T]) -> T:
    try:
        return start()
    except servers.ServerError as exc:
        problem = exc  # reported outside the handler: no chained traceback
    _unavailable(what, problem)


def _external(what: str, server: servers.ValkeyServer, source: str) -> servers.ValkeyServer:
    return _provide(what, lambda: _checked(server, source))


def _checked(server: servers.ValkeyServer, source: str) -> servers.ValkeyServer:
    servers.check_valkey(server, source)
    return server


def _stop(server: servers.ValkeyServer | servers.MysqlServer | servers.ValkeyCluster,
          state_dir: Path) -> None:
    """Stop the server, then drop its files (a MariaDB datadir is ~30 MB per run)."""
    servers.stop(server)
    shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def _served(
    tmp_path_factory: pytest.TempPathFactory,
    what: str,
    provide: Callable[..., S],
    external: Any,
    source: str,
) -> Iterator[S]:
    """``provide(state_dir, external=..., source=...)`` for the session: the TEST_ endpoint
    or a local server with its files in its own temp dir; stopped and removed after."""
    state_dir = tmp_path_factory.mktemp(what.lower())
    server = _provide(what, lambda: provide(state_dir, external=external, source=source,
                                            backend=BACKEND))
    try:
        yield server
    finally:
        _stop(server, state_dir)


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ValkeyServer]:
    """A Valkey server for the session (host, port, url)."""
    with _served(tmp_path_factory, "Valkey", servers.provide_valkey,
                 servers.valkey_from_env(os.environ, "TEST_"), "TEST_VALKEY_URL") as server:
        yield server


@pytest.fixture
def valkey(valkey_server: servers.ValkeyServer) -> Iterator[Any]:
    """A fresh valkey.Valkey client (bytes replies) on an empty server."""
    client = servers.valkey_client(valkey_server, decode_responses=False)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def mysql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MysqlServer]:
    """A MySQL-compatible server with the migrations applied to its database."""
    with _served(tmp_path_factory, "MySQL", servers.provide_mysql,
                 servers.mysql_from_env(os.environ, "TEST_"), "TEST_DB_HOST") as server:
        _migrated(server)
        yield server


def _migrated(server: servers.MysqlServer) -> None:
    conn = servers.mysql_connect(server)
    try:
        migrate(conn)
    finally:
        conn.close()


@pytest.fixture
def db(mysql_server: servers.MysqlServer) -> Iterator[Any]:
    """A PyMySQL connection (dict rows, autocommit off) to emptied tables."""
    conn = servers.mysql_connect(mysql_server)
    truncate_tables(conn)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def seeded_mysql(mysql_server: servers.MysqlServer) -> servers.MysqlServer:
    """A separate database holding the full seed, for read-only and benchmark tests.

    Never truncated by `db`; tests must not write to it.
    """
    server = servers.create_database(mysql_server, f"{mysql_server.database}_seeded")
    _migrated(server)
    conn = servers.mysql_connect(server)
    try:
        seed(conn, progress=False)
    finally:
        conn.close()
    return server


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ValkeyCluster]:
    """A 3-node local Valkey cluster (no replicas), slots all assigned."""
    external = servers.valkey_from_env(
        {"VALKEY_URL": os.environ.get("TEST_VALKEY_CLUSTER_URL", "")}
    )
    state_dir = tmp_path_factory.mktemp("cluster")
    if external is not None:
        cluster = servers.ValkeyCluster(
            (_external("Valkey cluster", external, "TEST_VALKEY_CLUSTER_URL"),)
        )
    else:
        cluster = _provide("Valkey cluster", lambda: servers.start_valkey_cluster(state_dir))
    yield cluster
    _stop(cluster, state_dir)


@pytest.fixture
def cluster_client(valkey_cluster: servers.ValkeyCluster) -> Iterator[Any]:
    """A ValkeyCluster client with every primary flushed."""
    from valkey.cluster import ValkeyCluster

    node = valkey_cluster.nodes[0]
    client = ValkeyCluster(
        host=node.host, port=node.port, password=node.password,
        socket_connect_timeout=2.0, socket_timeout=2.0,
    )
    client.flushall(target_nodes=ValkeyCluster.PRIMARIES)
    yield client
    client.close()


@pytest.fixture(params=["standalone", pytest.param("cluster", marks=pytest.mark.cluster)])
def any_valkey(request: pytest.FixtureRequest) -> Any:
    """Each pattern test once per backend: a flushed standalone client (``valkey``), then a
    cluster client with every primary flushed (``cluster_client``); ids standalone/cluster."""
    return request.getfixturevalue("valkey" if request.param == "standalone" else "cluster_client")


@pytest.fixture(scope="session")
def valkey_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ValkeyServer]:
    """A TLS-only Valkey server (host, port = TLS port, ca_file to verify it)."""
    external = servers.valkey_from_env({
        "VALKEY_URL": os.environ.get("TEST_VALKEY_TLS_URL", ""),
        "VALKEY_CA_FILE": os.environ.get("TEST_VALKEY_TLS_CA_FILE", ""),
    })
    state_dir = tmp_path_factory.mktemp("tls")
    if external is not None:
        server = _external("Valkey TLS", external, "TEST_VALKEY_TLS_URL")
    else:
        server = _provide("Valkey TLS", lambda: servers.start_valkey_tls(state_dir))
    yield server
    _stop(server, state_dir)


@pytest.fixture(scope="session")
def mysql_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MysqlServer]:
    """A MySQL-compatible server that requires TLS, as RDS Proxy does (ca_file verifies it)."""
    state_dir = tmp_path_factory.mktemp("mysql-tls")
    server = _provide("MySQL TLS", lambda: servers.start_mysql(
        state_dir / "mysql", tls=servers.make_tls_files(state_dir / "tls")))
    yield server
    _stop(server, state_dir)


@pytest.fixture(scope="session")
def app_settings(
    valkey_server: servers.ValkeyServer, mysql_server: servers.MysqlServer
) -> Settings:
    """The runtime settings pointing at the fixture servers (as the local stack's `env`)."""
    return Settings.from_env(servers.env_for(valkey_server, mysql_server))
