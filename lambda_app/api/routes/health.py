"""Health: both servers answer, or 503 naming which is down. Never rate limited.

It asks the connection layer directly (a ``PING`` each), not the services: health is
about reachability, and must not depend on the caching library's circuit breaker.
"""

from __future__ import annotations

from lambda_app.api.errors import ApiError
from lambda_app.api.models import Health
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router
from lambda_app.observability import logger

router = new_router()


def _cache_state() -> str:
    from lambda_app.clients.errors import CacheUnavailable
    from lambda_app.clients.valkey import get_valkey, ping
    from lambda_app.settings import get_settings

    settings = get_settings()
    try:
        ping(get_valkey(settings), settings.valkey)
    except CacheUnavailable as exc:
        logger.warning("health: %s", exc)
        return "down"
    return "ok"


def _db_state() -> str:
    from lambda_app.clients.errors import DatabaseUnavailable
    from lambda_app.clients.mysql import get_db
    from lambda_app.settings import get_settings

    try:
        get_db(get_settings()).ensure_alive()
    except DatabaseUnavailable as exc:
        logger.warning("health: %s", exc)
        return "down"
    return "ok"


@router.get(
    "/health",
    summary="Valkey and MySQL reachable",
    tags=["health"],
    responses=responses(200, "Both up", 503, limited=False),
)
def health() -> Health:
    state = Health(cache=_cache_state(), db=_db_state())
    down = [name for name in ("cache", "db") if getattr(state, name) != "ok"]
    if down:
        raise ApiError(
            503, "unavailable", f"{' and '.join(down)} down", extra=state.model_dump()
        )
    return state
