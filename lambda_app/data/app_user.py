"""The application's own MySQL user: what the serving functions log in as.

The master user can drop the database; the API and the warmer only read and write rows.
The migrator (the one function with the master credentials) creates this user with the
password from its own secret, after the migrations, and grants it row access table by
table: every table of the app's database but the migrations ledger, which it may only
read (``/health`` compares its version). No DDL, no GRANT, no FILE, no other schema.
Re-running sets the password again (a rotated secret takes effect at the next deploy),
grants the tables a new migration added, and takes back a database-wide grant an older
version of this code gave.

The local stack creates the same user the same way (``scripts/servers``), so the tests
and ``make serve`` exercise these grants and not an all-powerful local account.
"""

from __future__ import annotations

import re

from lambda_app.data.errors import InvalidValue
from lambda_app.data.schema import Connection

#: Row access only: enough for every repository, nothing that changes the schema.
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
#: What the serving user may do with the migrations ledger: read it.
LEDGER = "schema_migrations"
_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def ensure_app_user(conn: Connection, *, username: str, password: str, database: str) -> None:
    """Create (or update) ``username`` with ``password``: row access on every table of
    ``database`` but the ledger, read access to the ledger. Run it after migrating."""
    if not _NAME.match(username):
        raise InvalidValue("app user name", username, "1-32 letters, digits or underscores")
    if not _NAME.match(database) or not password:
        raise InvalidValue("app user grant", database, "a database name and a password")
    with conn.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (username, password))
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (username, password))
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.schema_privileges "
            "WHERE grantee = %s AND table_schema = %s",
            (f"'{username}'@'%'", database),
        )
        row = cursor.fetchone()
        if _first(row):
            cursor.execute(f"REVOKE ALL PRIVILEGES ON `{database}`.* FROM %s@'%%'", (username,))
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (database,),
        )
        tables = sorted(str(_first(found)) for found in cursor.fetchall())
        for table in tables:
            granted = "SELECT" if table == LEDGER else PRIVILEGES
            cursor.execute(f"GRANT {granted} ON `{database}`.`{table}` TO %s@'%%'", (username,))
    conn.commit()


def _first(row: object) -> object:
    """The first value of a row, whatever the cursor class (tuple or dict rows)."""
    if isinstance(row, dict):
        return next(iter(row.values()))
    if isinstance(row, tuple | list):
        return row[0]
    return None
