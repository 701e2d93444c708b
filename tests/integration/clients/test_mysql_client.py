"""The MySQL connection layer against a real server."""

import socket
import threading
import time

import pytest

from lambda_app.clients.errors import DatabaseUnavailable
from lambda_app.clients.mysql import Database, connect
from lambda_app.settings import Settings

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


def test_ensure_alive_reconnects_after_the_server_drops_the_connection(mysql_server):
    database = Database(_env(mysql_server).db)
    conn = database()
    with conn.cursor() as cur:
        cur.execute("SELECT CONNECTION_ID() AS id")
        first_id = cur.fetchone()["id"]
    killer = connect(_env(mysql_server).db)
    with killer.cursor() as cur:
        cur.execute(f"KILL {int(first_id)}")
    killer.close()
    database.ensure_alive()
    with database().cursor() as cur:
        cur.execute("SELECT CONNECTION_ID() AS id")
        assert cur.fetchone()["id"] != first_id
    database.close()


def test_one_connection_per_thread(mysql_server):
    database = Database(_env(mysql_server).db)
    seen = []

    def worker():
        seen.append(id(database()))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 3
    assert database() is database()
