"""Cache administration: warming, invalidation by key/pattern/tag, statistics."""

from __future__ import annotations

from lambda_app.api.deps import services
from lambda_app.api.models import CacheStats, Deleted, InvalidateIn, Warmed, WarmIn
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router

router = new_router()
TAGS = ["cache"]


@router.post(
    "/cache/warm",
    summary="Load the top N products into the cache",
    tags=TAGS,
    responses=responses(200, "How many were warmed, and how long it took", 400, 413, 415, 503),
)
def warm(request: WarmIn) -> Warmed:
    return Warmed.model_validate(services().cache_admin.warm(request.products_top))


@router.post(
    "/cache/invalidate",
    summary="Delete cached entries by key, glob pattern (SCAN, never KEYS) or tag",
    tags=TAGS,
    responses=responses(200, "How many keys were deleted", 400, 413, 415, 503),
)
def invalidate(request: InvalidateIn) -> Deleted:
    found = services()
    prefix = f"{found.keys.prefix}:"

    def qualified(name: str | None) -> str | None:
        return None if name is None else prefix + name

    result = found.cache_admin.invalidate(
        key=qualified(request.key), pattern=qualified(request.pattern), tag=request.tag
    )
    return Deleted.model_validate(result)


@router.get(
    "/cache/stats",
    summary="Hits, misses and loads per data class; server counters; eviction policy",
    tags=TAGS,
    responses=responses(200, "The statistics", 503),
)
def stats() -> CacheStats:
    return CacheStats.model_validate(services().cache_admin.stats())
