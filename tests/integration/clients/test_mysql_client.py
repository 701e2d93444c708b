"""The MySQL connection layer against a real server."""

import socket
import threading
import time
from decimal import Decimal

import pytest

from lambda_app.clients.errors import DatabaseUnavailable
from lambda_app.clients.mysql import IDLE_PING_SECONDS, Database, connect
from lambda_app.data.repositories import ProductRepository
from lambda_app.settings import Settings
from scripts import servers

pytestmark = pytest.mark.integration


def _env(mysql_server, **extra: str) -> Settings:
    env = {
        "DB_HOST": mysql_server.host,
        "DB_PORT": str(mysql_server.port),
        "DB_USER": mysql_server.user,
        "DB_PASSWORD": mysql_server.password,
        "DB_NAME": mysql_server.database,
    }
    env.update(extra)
    return Settings.from_env(env)


def test_connects_with_timeouts_and_dict_rows(mysql_server):
    conn = connect(_env(mysql_server).db)
    try:
        assert conn._read_timeout == 10.0
        assert conn._write_timeout == 10.0
        with conn.cursor() as cur:
            cur.execute("SELECT 1 AS one")
            assert cur.fetchone() == {"one": 1}
    finally:
        conn.close()


def test_wrong_password_is_a_clear_typed_error(mysql_server):
    with pytest.raises(DatabaseUnavailable) as info:
        connect(_env(mysql_server, DB_PASSWORD="definitely-wrong").db)
    assert "access denied" in str(info.value)


def test_unknown_database_says_so(mysql_server):
    with pytest.raises(DatabaseUnavailable) as info:
        connect(_env(mysql_server, DB_NAME="no_such_db").db)
    assert "unknown database" in str(info.value)


def test_closed_port_fails_fast():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_env({"DB_PORT": str(port), "DB_CONNECT_TIMEOUT": "0.5"})
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        connect(settings.db)
    assert time.monotonic() - started < 1.0


def _connection_id(database: Database) -> int:
    with database().cursor() as cur:
        cur.execute("SELECT CONNECTION_ID() AS id")
        return int(cur.fetchone()["id"])


def _kill(mysql_server, connection_id: int) -> None:
    killer = connect(_env(mysql_server).db)
    with killer.cursor() as cur:
        cur.execute(f"KILL {connection_id}")
    killer.close()


def test_ensure_alive_reconnects_after_the_server_drops_the_connection(mysql_server):
    database = Database(_env(mysql_server).db)
    first_id = _connection_id(database)
    _kill(mysql_server, first_id)
    database.ensure_alive()
    assert _connection_id(database) != first_id
    database.close()


def test_only_an_idle_connection_is_pinged_before_a_request(mysql_server):
    """A connection used moments ago is handed out as is (no round trip per request);
    one idle for IDLE_PING_SECONDS is checked, and replaced if the server dropped it."""
    now = [1000.0]
    database = Database(_env(mysql_server).db, clock=lambda: now[0])
    database.ping_if_idle()  # no connection yet: none is opened
    assert getattr(database._local, "conn", None) is None
    first_id = _connection_id(database)
    conn = database()
    _kill(mysql_server, first_id)

    now[0] += IDLE_PING_SECONDS - 1
    database.ping_if_idle()
    assert database() is conn  # not pinged, so the dead connection is not noticed yet

    now[0] += IDLE_PING_SECONDS
    database.ping_if_idle()
    assert database() is not conn
    assert _connection_id(database) != first_id
    database.close()


def test_a_read_needs_no_commit_to_see_later_writes(mysql_server, db):
    """The connections autocommit, so a repository read is one statement: no COMMIT
    follows it to end a snapshot, and the next read still sees other sessions' writes."""
    database = Database(_env(mysql_server).db)
    products = ProductRepository(database)
    row = ProductRepository(lambda: db).create(name="Lamp", price=Decimal("1.00"))
    assert products.get(row["id"])["name"] == "Lamp"
    ProductRepository(lambda: db).update(row["id"], name="Desk")
    assert products.get(row["id"])["name"] == "Desk"
    with database().cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Com_commit'")
        assert int(cur.fetchone()["Value"]) == 0
    database.close()


def test_one_connection_per_thread(mysql_server):
    database = Database(_env(mysql_server).db)
    seen = []  # the connections themselves: an id() is reused once its thread's is freed

    def worker():
        seen.append(database())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(conn) for conn in seen}) == 3
    assert database() is database()


def _tls_settings(server, **overrides):
    from lambda_app.settings import Settings

    env = {"DB_HOST": server.host, "DB_PORT": str(server.port), "DB_NAME": server.database,
           "DB_USER": server.user, "DB_PASSWORD": server.password, "DB_TLS": "true",
           "DB_CA_FILE": server.ca_file, "DB_CONNECT_TIMEOUT": "2"}
    return Settings.from_env({**env, **overrides}).db


def test_tls_is_required_and_verified_with_one_context_per_process(mysql_tls_server):
    """As RDS Proxy: TLS on every connection, the server's certificate checked against
    the CA bundle, and the bundle parsed once per process however many connections."""
    from lambda_app.clients.mysql import connect
    from lambda_app.clients.tls import client_context

    client_context.cache_clear()
    settings = _tls_settings(mysql_tls_server)
    assert settings.tls and settings.ca_file
    conns = [connect(settings) for _ in range(3)]
    try:
        for conn in conns:
            with conn.cursor() as cursor:
                cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
                assert cursor.fetchone()["Value"].startswith("TLSv1.")
        assert client_context.cache_info().misses == 1
    finally:
        for conn in conns:
            conn.close()


def test_tls_refuses_a_server_its_trust_store_does_not_vouch_for(mysql_tls_server):
    from lambda_app.clients.errors import DatabaseUnavailable
    from lambda_app.clients.mysql import connect

    with pytest.raises(DatabaseUnavailable):
        connect(_tls_settings(mysql_tls_server, DB_CA_FILE=""))  # the system store only
    with pytest.raises(DatabaseUnavailable):
        connect(_tls_settings(mysql_tls_server, DB_TLS="false"))  # plain TCP: refused


def test_the_users_authenticate_as_the_server_flavour_requires_over_tls(mysql_tls_server):
    """Oracle MySQL 9.x (RDS's engine) has no mysql_native_password: every user is
    caching_sha2_password, whose full authentication needs TLS (or an RSA exchange). The
    app's connection does it over verified TLS, as the restricted serving user too."""
    from lambda_app.clients.mysql import connect
    from lambda_app.data.migrations import migrate

    settings = _tls_settings(mysql_tls_server)
    owner = servers.mysql_connect(mysql_tls_server)
    try:
        migrate(owner)  # the serving user's grants are per table
    finally:
        owner.close()
    runtime = servers.grant_runtime_user(mysql_tls_server)
    for user, password in ((mysql_tls_server.user, mysql_tls_server.password),
                           (runtime.user, runtime.password)):
        conn = connect(settings.model_copy(update={"user": user, "password": password}))
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT CURRENT_USER() AS who")
                assert cursor.fetchone()["who"].startswith(f"{user}@")
                cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
                assert cursor.fetchone()["Value"].startswith("TLSv1.")
        finally:
            conn.close()
    if mysql_tls_server.flavor != "mysql":
        return
    owner = servers.mysql_connect(mysql_tls_server)
    try:
        with owner.cursor() as cursor:
            cursor.execute("SELECT user, plugin FROM mysql.user WHERE user IN (%s, %s)",
                           (mysql_tls_server.user, runtime.user))
            plugins = {row["user"]: row["plugin"] for row in cursor.fetchall()}
    finally:
        owner.close()
    assert plugins == {mysql_tls_server.user: "caching_sha2_password",
                       runtime.user: "caching_sha2_password"}
