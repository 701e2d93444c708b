"""The application's own MySQL user: what the serving functions log in as.

The master user can drop the database; the API and the warmer only read and write rows.
The migrator (the one function with the master credentials) creates this user with the
password from its own secret and grants it row access on the app's database, nothing
more: no DDL, no GRANT, no other schema. Re-running sets the password again, so a
rotated secret takes effect at the next deploy.
"""

from __future__ import annotations

import re

from lambda_app.data.errors import InvalidValue
from lambda_app.data.schema import Connection

#: Row access only: enough for every repository, nothing that changes the schema.
PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def ensure_app_user(conn: Connection, *, username: str, password: str, database: str) -> None:
    """Create (or update) ``username`` with ``password`` and row access on ``database``."""
    if not _NAME.match(username):
        raise InvalidValue("app user name", username, "1-32 letters, digits or underscores")
    if not _NAME.match(database) or not password:
        raise InvalidValue("app user grant", database, "a database name and a password")
    with conn.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (username, password))
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (username, password))
        cursor.execute(f"GRANT {PRIVILEGES} ON `{database}`.* TO %s@'%%'", (username,))
    conn.commit()
