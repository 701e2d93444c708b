"""The app's CloudWatch metrics, named once: the runtime emits them (EMF), the stack's
dashboard and alarms read them. A name or dimension written twice drifts, and a graph of
a metric nobody emits stays empty without an error anywhere.

Imports nothing, so the Lambda runtime and ``infra/`` can both load it for free.
"""

from __future__ import annotations

#: Environment variables that carry the namespace and the ``service`` dimension's value
#: (Powertools reads them; the stack sets them on every function).
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
DEFAULT_NAMESPACE = "ValkeyCaching"
DEFAULT_SERVICE = "valkey-caching"

#: Dimensions. Powertools adds ``service`` to every metric it writes.
SERVICE = "service"
DATA_CLASS = "data_class"

#: Per data class (dimensions ``service``, ``data_class``), from ``caching.metrics``.
CACHE_HITS = "CacheHits"
CACHE_MISSES = "CacheMisses"
CACHE_NEGATIVE_HITS = "CacheNegativeHits"
NEAR_CACHE_HITS = "NearCacheHits"
CACHE_LOADS = "CacheLoads"
CACHE_LOAD_ERRORS = "CacheLoadErrors"
CACHE_ERRORS = "CacheErrors"
CACHE_BYPASSED = "CacheBypassed"
CACHE_TOO_LARGE = "CacheTooLarge"
CACHE_LOCK_WAITS = "CacheLockWaits"
CACHE_LOCK_FALLBACKS = "CacheLockFallbacks"
CACHE_EARLY_RECOMPUTES = "CacheEarlyRecomputes"
CACHE_FENCED = "CacheFillsFenced"
CACHE_LOAD_LATENCY = "CacheLoadLatency"

#: Per request (dimension ``service``), from the API handler.
RATE_LIMITED = "RateLimited"
RATE_LIMITER_FAIL_OPEN = "RateLimiterFailOpen"


def http_status_class(status: int) -> str:
    """``Http2xx`` ... ``Http5xx``: one count per answer class."""
    return f"Http{status // 100}xx"


#: The data classes the dashboard graphs hit ratios for (what the API serves cached).
GRAPHED_DATA_CLASSES = ("product", "user", "query", "dashboard", "session")
