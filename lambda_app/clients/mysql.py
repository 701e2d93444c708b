"""The MySQL connection: PyMySQL with explicit timeouts, one per thread, reused.

A Lambda environment handles one request at a time, so one connection per process is
right there; the local server and the tests run handlers on several threads, and
PyMySQL connections are not thread-safe, hence one per thread. A connection idle for
``IDLE_PING_SECONDS`` (e.g. while the environment was frozen) is pinged, and reopened if
the server closed it, before a request uses it; a busy one is not, so a request that
is answered from the cache costs no MySQL round trip.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.connections import Connection

from lambda_app.clients.errors import DatabaseUnavailable
from lambda_app.clients.tls import mysql_context
from lambda_app.settings import DatabaseSettings, Settings

#: What a caller catches to mean "the database did not answer": refused, lost, timed
#: out or already closed.
DB_ERRORS: tuple[type[BaseException], ...] = (
    pymysql.err.OperationalError,
    pymysql.err.InterfaceError,
    OSError,
)

_ACCESS_DENIED = 1045
_UNKNOWN_DATABASE = 1049

#: A connection unused for this long is pinged before its next use (as valkey-py's
#: ``health_check_interval`` does for the cache).
IDLE_PING_SECONDS = 30.0


def credentials(settings: DatabaseSettings) -> dict[str, Any]:
    """User, password and (from an RDS secret) endpoint overrides."""
    found: dict[str, Any] = {"user": settings.user or "root", "password": settings.password or ""}
    if settings.secret_arn:
        from lambda_app.clients.secrets import get_secret_json

        secret = get_secret_json(settings.secret_arn, "DB_SECRET_ARN")
        found["user"] = secret.get("username", found["user"])
        found["password"] = secret.get("password", found["password"])
    return found


def endpoint(settings: DatabaseSettings) -> str:
    return f"mysql://{settings.host}:{settings.port}/{settings.name}"


def connect(
    settings: DatabaseSettings, *, database: bool = True, autocommit: bool = False
) -> Connection[Any]:
    """A new connection, or ``DatabaseUnavailable`` naming what went wrong."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "database": settings.name if database else None,
        "connect_timeout": settings.connect_timeout,
        "read_timeout": settings.read_timeout,
        "write_timeout": settings.write_timeout,
        "cursorclass": pymysql.cursors.DictCursor,
        "charset": "utf8mb4",
        "autocommit": autocommit,
        # Timestamps are compared with UTC "now" in Python (sessions, orders windows).
        "init_command": "SET time_zone = '+00:00'",
        **credentials(settings),
    }
    if settings.tls:  # one context per process (lambda_app.clients.tls), verification as before
        options["ssl"] = mysql_context(settings.ca_file)
    else:
        # PyMySQL 1.2 otherwise "prefers" TLS: an unverified session (no protection from
        # an active attacker) on a new context per connection (~30 ms each). DB_TLS=false
        # means plain TCP; DB_TLS=true, verified TLS.
        options["ssl_disabled"] = True
    try:
        return pymysql.connect(**options)
    except pymysql.err.OperationalError as exc:
        raise DatabaseUnavailable(endpoint(settings), _reason(exc)) from None
    except DB_ERRORS as exc:
        raise DatabaseUnavailable(endpoint(settings), str(exc) or type(exc).__name__) from None


def _reason(exc: pymysql.err.OperationalError) -> str:
    code = exc.args[0] if exc.args else None
    if code == _ACCESS_DENIED:
        return "access denied (check DB_USER/DB_PASSWORD or DB_SECRET_ARN)"
    if code == _UNKNOWN_DATABASE:
        return "unknown database (check DB_NAME, or run the migrations)"
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return str(message).splitlines()[0]


def _answers(conn: Connection[Any]) -> bool:
    """Whether ``conn`` is open and answers a ping. A connection that a failed query
    closed makes PyMySQL's ping raise a bare ``Error("Already closed")``, which is no
    driver error a caller would read as an outage, so it is never pinged."""
    if not conn.open:
        return False
    try:
        conn.ping(reconnect=False)
    except (pymysql.err.Error, OSError):
        return False
    return True


class Database:
    """Hands out this thread's connection, opening it on first use.

    Its connections autocommit: a read is one round trip (no COMMIT to end its
    snapshot), and the repositories' writes open their own transactions (``BEGIN``).
    """

    def __init__(
        self, settings: DatabaseSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._local = threading.local()

    def __call__(self) -> Connection[Any]:
        conn: Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or not conn.open:
            conn = self._open()
        self._local.used_at = self._clock()
        return conn

    def _open(self) -> Connection[Any]:
        conn = self._local.conn = connect(self.settings, autocommit=True)
        return conn

    def ensure_alive(self) -> None:
        """Connect, or reconnect if the server dropped this thread's connection.

        This is ``ping(reconnect=True)`` done by hand: PyMySQL 1.2 deprecates that flag
        in favour of opening a new connection, which is what happens here.
        """
        conn: Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and not _answers(conn):
            self.close()
            conn = None
        self._local.used_at = self._clock()
        if conn is None:
            self._open()  # DatabaseUnavailable if it cannot; the next use tries again

    def ping_if_idle(self) -> None:
        """``ensure_alive`` only when this thread holds a connection unused for
        ``IDLE_PING_SECONDS``: called before every request, it costs a busy environment
        no round trip.

        Never connects: a request that may be served from the cache should not wait out
        a connect timeout during a database outage for a connection it may not need.
        """
        conn: Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        if not conn.open:
            self.close()  # the next use opens a fresh one
            return
        if self._clock() - getattr(self._local, "used_at", 0.0) >= IDLE_PING_SECONDS:
            self.ensure_alive()

    def close(self) -> None:
        conn: Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and conn.open:
            with contextlib.suppress(*DB_ERRORS):  # already gone: nothing to release
                conn.close()


_lock = threading.Lock()
_databases: dict[DatabaseSettings, Database] = {}


def get_db(settings: Settings | DatabaseSettings) -> Database:
    """The process-wide ``Database`` for these settings; call it for a connection."""
    key = settings.db if isinstance(settings, Settings) else settings
    database = _databases.get(key)
    if database is None:
        with _lock:
            database = _databases.setdefault(key, Database(key))
    return database


def reset_databases() -> None:
    with _lock:
        for database in _databases.values():
            database.close()
        _databases.clear()
