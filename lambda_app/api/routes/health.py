"""Health: both servers answer, or 503 naming which is down. Never rate limited.

``lambda_app.services.health`` asks each server directly (a ``PING`` each): health is
about reachability, and must not depend on the caching library's circuit breaker.
"""

from __future__ import annotations

from lambda_app.api.errors import ApiError
from lambda_app.api.models import Health
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router
from lambda_app.services import health as health_checks

router = new_router()


@router.get(
    "/health",
    summary="Valkey and MySQL reachable",
    tags=["health"],
    responses=responses(200, "Both up", 503, limited=False),
)
def health() -> Health:
    state = Health(cache=health_checks.cache_state(), db=health_checks.database_state())
    down = [name for name in ("cache", "db") if getattr(state, name) != "ok"]
    if down:
        raise ApiError(
            503, "unavailable", f"{' and '.join(down)} down", extra=state.model_dump()
        )
    return state
