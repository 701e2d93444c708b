"""Reachability of the two servers, and keeping this process's MySQL connection fresh.

Health asks the connection layer directly (a ``PING`` each), not through the caching
library: it is about reachability, and must not depend on the circuit breaker. The API
layer calls these instead of touching the clients itself.
"""

from __future__ import annotations

import logging

from lambda_app.clients.errors import CacheUnavailable, DatabaseUnavailable
from lambda_app.clients.mysql import get_db
from lambda_app.clients.valkey import get_valkey, ping
from lambda_app.settings import get_settings

log = logging.getLogger(__name__)

UP, DOWN = "ok", "down"


def cache_state() -> str:
    settings = get_settings()
    try:
        ping(get_valkey(settings), settings.valkey)
    except CacheUnavailable as exc:
        log.warning("health: %s", exc)
        return DOWN
    return UP


def database_state() -> str:
    try:
        get_db(get_settings()).ensure_alive()
    except DatabaseUnavailable as exc:
        log.warning("health: %s", exc)
        return DOWN
    return UP


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
