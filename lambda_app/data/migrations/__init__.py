"""Apply the numbered schema migrations exactly once per database.

`migrate(conn)` is idempotent and safe when several processes start at once (a Lambda
deploy, the local stack and a test run): a named server lock (GET_LOCK) serializes
them, and the `schema_migrations` table records what is applied.
"""

from __future__ import annotations

import hashlib

from lambda_app.data.errors import MigrationError
from lambda_app.data.migrations.versions import MIGRATIONS, Migration
from lambda_app.data.schema import Connection
from lambda_app.settings import DatabaseSettings

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "create_database", "migrate"]

LOCK_TIMEOUT_SECONDS = 60

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT NOT NULL,
    name VARCHAR(200) NOT NULL,
    applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""


def _lock_name(database: str) -> str:
    """GET_LOCK names are server-wide and at most 64 characters: scope by database."""
    name = f"schema_migrations:{database}"
    if len(name) <= 64:
        return name
    return "schema_migrations:" + hashlib.sha256(database.encode()).hexdigest()[:40]


def applied_versions(conn: Connection) -> list[int]:
    """Versions recorded in `schema_migrations` (empty when the table does not exist)."""
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'"
        )
        (exists,) = _values(cursor.fetchone())
        if not exists:
            conn.commit()
            return []
        cursor.execute("SELECT version FROM schema_migrations ORDER BY version")
        versions = [int(str(_values(row)[0])) for row in cursor.fetchall()]
    conn.commit()
    return versions


def _values(row: object) -> tuple[object, ...]:
    """Row values whatever the connection's cursor class (tuple or dict rows)."""
    if isinstance(row, dict):
        return tuple(row.values())
    if isinstance(row, tuple):
        return row
    raise MigrationError("query returned no row")


def migrate(conn: Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations `conn`'s database lacks, in order; returns the versions applied.

    A database already current is only read (no lock, no DDL), so the serving user, who
    may read the ledger and change no schema, can call it too."""
    if {m.version for m in migrations} <= set(applied_versions(conn)):
        return []
    with conn.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        (database,) = _values(cursor.fetchone())
        if not database:
            raise MigrationError("the connection has no database selected (set DB_NAME)")
        lock = _lock_name(str(database))
        cursor.execute("SELECT GET_LOCK(%s, %s)", (lock, LOCK_TIMEOUT_SECONDS))
        (acquired,) = _values(cursor.fetchone())
        if acquired != 1:
            raise MigrationError(
                f"another migration holds lock {lock!r}; gave up after {LOCK_TIMEOUT_SECONDS} s"
            )
        try:
            cursor.execute(_CREATE_LEDGER)
            done = set(applied_versions(conn))
            applied: list[int] = []
            for migration in sorted(migrations, key=lambda item: item.version):
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                conn.commit()
                applied.append(migration.version)
            return applied
        finally:
            cursor.execute("SELECT RELEASE_LOCK(%s)", (lock,))
            cursor.fetchall()
            conn.commit()


def create_database(settings: DatabaseSettings) -> None:
    """CREATE DATABASE DB_NAME if missing (local servers and a fresh RDS instance)."""
    from lambda_app.clients.mysql import connect

    server = connect(settings, database=False)
    try:
        with server.cursor() as cursor:  # DB_NAME is validated by the settings
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{settings.name}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        server.close()
