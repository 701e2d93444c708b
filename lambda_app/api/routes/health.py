"""Health: both servers answer and the schema is current, or 503 naming what is not.
Never rate limited; the answer is kept for a second per process.

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
    summary="Valkey and MySQL reachable, the schema current (kept 1 s per instance)",
    tags=["health"],
    responses=responses(200, "Both up", 503, limited=False),
)
def health() -> Health:
    cache, db = health_checks.states()
    state = Health(cache=cache, db=db)
    down = [f"{name} {value}" for name, value in (("cache", cache), ("db", db)) if value != "ok"]
    if down:
        message = " and ".join(down)
        if db == health_checks.UNMIGRATED:
            message += ": apply the migrations (make seed; on AWS, ops seed --remote)"
        raise ApiError(503, "unavailable", message, extra=state.model_dump())
    return state
