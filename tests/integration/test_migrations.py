"""Migrations: versioned, idempotent, serialized by a server lock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pymysql
import pytest

from lambda_app.data.errors import MigrationError
from lambda_app.data.migrations import MIGRATIONS, applied_versions, migrate
from scripts import servers

pytestmark = pytest.mark.integration

ALL_VERSIONS = [migration.version for migration in MIGRATIONS]


@pytest.fixture
def empty_database(mysql_server: servers.MysqlServer) -> Iterator[servers.MysqlServer]:
    """A brand-new database, dropped afterwards."""
    server = servers.create_database(mysql_server, f"mig_{uuid.uuid4().hex[:12]}")
    yield server
    conn = servers.mysql_connect(server, database="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{server.database}`")
    finally:
        conn.close()


def _tables(conn) -> set[str]:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
        return {row["name"] for row in cursor.fetchall()}


def test_first_run_applies_every_version_and_creates_the_tables(empty_database):
    conn = servers.mysql_connect(empty_database)
    try:
        assert applied_versions(conn) == []
        assert migrate(conn) == ALL_VERSIONS
        assert applied_versions(conn) == ALL_VERSIONS
        assert {"products", "users", "sessions", "orders", "schema_migrations"} <= _tables(conn)
    finally:
        conn.close()


def test_running_twice_applies_nothing_the_second_time(empty_database):
    conn = servers.mysql_connect(empty_database)
    try:
        assert migrate(conn) == ALL_VERSIONS
        assert migrate(conn) == []
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM schema_migrations")
            assert cursor.fetchone() == {"n": len(ALL_VERSIONS)}
    finally:
        conn.close()


def test_concurrent_runs_apply_each_version_once(empty_database):
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        conn = servers.mysql_connect(empty_database)
        try:
            results.append(migrate(conn))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(version for result in results for version in result) == ALL_VERSIONS


def test_indexes_the_patterns_need_exist(db):
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT table_name AS t, index_name AS i, column_name AS c, seq_in_index AS s "
            "FROM information_schema.statistics WHERE table_schema = DATABASE()"
        )
        first_columns = {(row["t"], row["c"]) for row in cursor.fetchall() if row["s"] == 1}
    assert {
        ("products", "views"),
        ("products", "sales"),
        ("users", "email"),
        ("sessions", "user_id"),
        ("orders", "user_id"),
        ("orders", "created_at"),
    } <= first_columns


def test_a_connection_without_a_database_is_refused_clearly(mysql_server):
    conn = servers.mysql_connect(mysql_server, database="")
    try:
        with pytest.raises(MigrationError, match="no database selected"):
            migrate(conn)
    finally:
        conn.close()


def test_the_lock_is_released_after_a_failed_migration(empty_database):
    from lambda_app.data.migrations import Migration

    broken = (*MIGRATIONS, Migration(version=999, name="broken", statements=("SELEC 1",)))
    conn = servers.mysql_connect(empty_database)
    try:
        with pytest.raises(pymysql.err.ProgrammingError):
            migrate(conn, broken)
        assert applied_versions(conn) == ALL_VERSIONS  # the good ones stay recorded
        with conn.cursor() as cursor:
            cursor.execute("SELECT IS_FREE_LOCK(%s) AS free",
                           (f"schema_migrations:{empty_database.database}",))
            assert cursor.fetchone() == {"free": 1}
    finally:
        conn.close()
