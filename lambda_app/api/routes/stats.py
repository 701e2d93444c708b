"""The dashboard: an expensive aggregate served from cache (lazy loading, short TTL)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from lambda_app.api.deps import cached, services
from lambda_app.api.models import Dashboard
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router

router = new_router()


@router.get(
    "/stats/dashboard",
    summary="Orders in the last 24 h: users, total, average (cached aggregate)",
    tags=["stats"],
    responses=responses(200, "The aggregate", 503, cached=True),
)
def dashboard() -> Response[Dashboard]:
    return cached(services().stats.dashboard(), "dashboard", "stats")
