"""The handler runs as the restricted serving user, locally as on AWS: rows only.

The API tests' environment (``harness.api_env``) names the user the migrator creates
(``lambda_app.data.app_user``), not the database's owner, so every API test exercises
these grants; this file states what they allow and refuse.
"""

from __future__ import annotations

import pymysql
import pytest

from scripts import servers
from tests.integration.api.harness import call

pytestmark = pytest.mark.integration

DENIED = 1142  # command denied to user


def _as_serving_user(api: dict[str, str]) -> pymysql.Connection:
    assert api["DB_USER"] == servers.RUNTIME_USER
    return pymysql.connect(host=api["DB_HOST"], port=int(api["DB_PORT"]), user=api["DB_USER"],
                           password=api["DB_PASSWORD"], database=api["DB_NAME"],
                           autocommit=True)


def test_the_api_serves_as_the_restricted_user(api, caller):
    assert call("GET", "/health").status == 200
    assert call("POST", "/products", {"name": "grants", "price": 1}, api_key=caller).status == 201


def test_the_serving_user_reads_and_writes_rows_and_nothing_else(api):
    conn = _as_serving_user(api)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM products")
            cursor.execute("SELECT MAX(version) FROM schema_migrations")
            assert cursor.fetchone()[0] >= 3
            for statement in (
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'x')",
                "UPDATE schema_migrations SET name = 'x'",
                "DELETE FROM schema_migrations",
                "CREATE TABLE nope (id INT)",
                "DROP TABLE sessions",
                "ALTER TABLE users ADD COLUMN x INT",
            ):
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    cursor.execute(statement)
                assert denied.value.args[0] == DENIED, statement
            cursor.execute("SELECT LOAD_FILE('/etc/passwd')")
            assert cursor.fetchone()[0] is None  # no FILE privilege
            with pytest.raises(pymysql.err.OperationalError):
                cursor.execute("SELECT COUNT(*) FROM mysql.user")
    finally:
        conn.close()
