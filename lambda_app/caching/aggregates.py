"""Aggregate query caching (the dashboard's stats over recent orders).

An aggregate over the last 24 hours of orders is expensive (hundreds of ms on a large
table) and tolerates a few minutes of staleness, so it is cached for ``TTL_DASHBOARD``
(5 min) through the read side's cache-aside, which adds what a plain get-or-compute
lacks:

* stampede protection: when the entry expires under load, one caller recomputes while
  the others wait for its result (``lock``) or one caller refreshes it early
  (``xfetch``), instead of every request running the query at once;
* ``Decimal`` sums and averages that come back as ``Decimal`` on a hit;
* a cache outage that degrades to running the query, not to an error.

Keys: ``prefix:dashboard:<name>`` or, with parameters, ``prefix:query:<name>:k=v,...``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.lookup import Lookup

Params = Mapping[str, str | int]


class AggregateCache:
    """Named aggregate results, each cached under its data class with stampede protection."""

    def __init__(self, cache: CacheAside, *, data_class: str = "dashboard") -> None:
        self.cache = cache
        self.data_class = cache.ttl.check(data_class)

    def key(self, name: str, params: Params | None = None) -> str:
        if params:
            return self.cache.keys.query(name, params)
        return self.cache.keys.key(self.data_class, name)

    def get(self, name: str, compute: Callable[[], Any], params: Params | None = None) -> Lookup:
        """The cached result of ``compute()``, recomputed at most by one caller at a time."""
        return self.cache.get(self.data_class, self.key(name, params), compute)

    def refresh(self, name: str, compute: Callable[[], Any], params: Params | None = None) -> bool:
        """Recompute now and store (a scheduled warm of the dashboard)."""
        return self.cache.set(self.data_class, self.key(name, params), compute())

    def invalidate(self, name: str, params: Params | None = None) -> int:
        return self.cache.delete([self.key(name, params)])
