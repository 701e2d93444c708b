"""Reachability of the two servers, and keeping this process's MySQL connection fresh.

Health asks the connection layer directly (a ``PING`` each), not through the caching
library: it is about reachability, and must not depend on the circuit breaker. The API
layer calls these instead of touching the clients itself.

``/health`` is public and not rate limited, so its answer is kept for a second per
process (:data:`HEALTH_TTL_SECONDS`): a flood of health checks costs each server at most
one round trip per second and instance. A database that answers but lacks the schema
(or an older one than this code needs) is not healthy: every data route would answer 503.
"""

from __future__ import annotations

import logging
import threading
import time

import pymysql

from lambda_app.clients.errors import CacheUnavailable, DatabaseUnavailable
from lambda_app.clients.mysql import DB_ERRORS, Database, get_db
from lambda_app.clients.valkey import get_valkey, ping
from lambda_app.settings import get_settings

log = logging.getLogger(__name__)

UP, DOWN, UNMIGRATED = "ok", "down", "unmigrated"
HEALTH_TTL_SECONDS = 1.0

_lock = threading.Lock()
#: The last answer and when it was taken (one entry, under ``_lock``).
_kept: dict[str, tuple[float, tuple[str, str]]] = {}


def states() -> tuple[str, str]:
    """``(cache, db)``, asked at most once per :data:`HEALTH_TTL_SECONDS` per process."""
    with _lock:
        last = _kept.get("answer")
        if last is not None and time.monotonic() - last[0] < HEALTH_TTL_SECONDS:
            return last[1]
        answer = (cache_state(), database_state())
        _kept["answer"] = (time.monotonic(), answer)
        return answer


def forget() -> None:
    """Drop the kept answer (the runtime was rebuilt from new settings)."""
    with _lock:
        _kept.clear()


def cache_state() -> str:
    settings = get_settings()
    try:
        ping(get_valkey(settings), settings.valkey)
    except CacheUnavailable as exc:
        log.warning("health: %s", exc)
        return DOWN
    return UP


def database_state() -> str:
    database = get_db(get_settings())
    try:
        database.ensure_alive()
        current = _schema_version(database)
    except DatabaseUnavailable as exc:
        log.warning("health: %s", exc)
        return DOWN
    from lambda_app.data.migrations.versions import MIGRATIONS

    needed = MIGRATIONS[-1].version
    if current < needed:
        log.warning("health: schema version %s, this code needs %s", current, needed)
        return UNMIGRATED
    return UP


def _schema_version(database: Database) -> int:
    """The newest applied migration; 0 for a database without the ledger."""
    try:
        with database().cursor() as cursor:
            cursor.execute("SELECT MAX(version) FROM schema_migrations")
            row = cursor.fetchone()
    except pymysql.err.ProgrammingError:  # no such table: never migrated
        return 0
    except DB_ERRORS as exc:
        database.close()
        raise DatabaseUnavailable("schema check", str(exc)) from None
    value = next(iter(row.values())) if isinstance(row, dict) else (row or (None,))[0]
    return int(value or 0)


def revive_database() -> None:
    """Ping this thread's MySQL connection if it has sat idle (the environment may have
    been frozen), reconnecting if the server dropped it; never connects, never fails.

    Connecting eagerly here would make every cache hit wait for a connect timeout during
    a database outage; a request that needs the database connects on its own, and fails
    with a 503 if it cannot.
    """
    try:
        get_db(get_settings()).ping_if_idle()
    except DatabaseUnavailable as exc:
        log.warning("database ping failed: %s", exc)
