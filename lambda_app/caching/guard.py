"""One guard for every cache call a pattern makes: breaker, metrics and log in one place.

A pattern calls Valkey through :meth:`CacheGuard.call` and catches ``VALKEY_ERRORS`` to
fall back. The guard skips the call while the breaker is open (``BreakerOpen``, itself a
connection error), counts a failure against the breaker and the data class's ``errors``
metric, and logs it once; an answered call (even an error reply) counts as a success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lambda_app.caching.breaker import BreakerOpen, CircuitBreaker
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.clients.valkey import VALKEY_ERRORS

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger(__name__)


class CacheGuard:
    """Breaker + per-class error metric + one warning per failed call."""

    def __init__(self, breaker: CircuitBreaker, metrics: CacheMetrics) -> None:
        self.breaker = breaker
        self.metrics = metrics

    def call(
        self, data_class: str, what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(*args, **kwargs)`` through the breaker; ``what`` names it in the log."""
        try:
            return self.breaker.call(fn, *args, **kwargs)
        except BreakerOpen:
            raise  # skipped, not failed: nothing to count
        except VALKEY_ERRORS as exc:
            self.metrics.incr(data_class, "errors")
            logger.warning("cache %s failed for %s: %s", what, data_class, exc)
            raise
