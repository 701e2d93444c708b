"""Write-through with leases: the cache never ends up older than the database.

The usual write-through (``db.update(...); cache.set(key, request_fields)``) has three
defects, fixed here:

1. ``update_user`` caches the *request's* fields, so the cached row loses the others.
   Here the cache is filled from the database row as it is after the commit.
2. A cache write that fails after the commit leaves the old value cached. Here the
   first cache step after a commit *deletes* the value (in the same script that renews
   the lease, below); if even that fails, the key is retried before the next cache
   command of the process (:class:`~lambda_app.caching.invalidation.PendingInvalidations`)
   and the TTL is the last backstop.
3. Concurrent writers and readers race: a reader that loaded the old row before a write
   can store it after the writer's delete (stale-set-after-delete), or two writers can
   store their rows in the opposite order of their commits. Here every fill is guarded
   by a *lease* (:mod:`~lambda_app.caching.leases`, Facebook's "Scaling Memcache"): a
   reader takes the key's lease in the same round trip as its ``GET``; a writer, after
   its commit, replaces the lease and deletes the value (one script), then reads the row
   back and fills under its new lease; a fill stores only while its lease stands. The
   party that took the last lease read the database after every commit, so its fill
   carries the newest row.

Keys: the value under ``KeyBuilder.key(resource, id)`` in the string layout of
:class:`~lambda_app.caching.storage.StringStorage` (so the cache-aside reader understands
it), the lease beside it in the same cluster slot (``KeyBuilder.companion(key, "lease")``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lambda_app.caching.breaker import BreakerOpen, CircuitBreaker
from lambda_app.caching.guard import CacheGuard
from lambda_app.caching.invalidation import Announcer, PendingInvalidations
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import (
    DEFAULT_LEASE_MS,
    FILL_LUA,
    READ_LUA,
    RENEW_LUA,
    LeaseRead,
    Leases,
    new_token,
)
from lambda_app.caching.lookup import Lookup
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.serialization import SerializationError, ValueTooLargeError
from lambda_app.caching.storage import Entry, StringStorage
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.errors import DatabaseUnavailable
from lambda_app.clients.mysql import DB_ERRORS
from lambda_app.clients.valkey import VALKEY_ERRORS, ValkeyClient

log = logging.getLogger(__name__)

#: The lease protocol moved to :mod:`~lambda_app.caching.leases`; still importable here.
__all__ = [
    "DB_FAILURES", "DEFAULT_LEASE_MS", "FILL_LUA", "READ_LUA", "RENEW_LUA", "Row",
    "WriteThrough", "new_token",
]

Row = Mapping[str, Any]

#: What a database that does not answer raises (the caller's write has committed).
DB_FAILURES: tuple[type[BaseException], ...] = (DatabaseUnavailable, *DB_ERRORS)


class WriteThrough:
    """Write-through for one entity type whose database row is the source of truth.

    ``load(id)`` reads the committed row (None when it does not exist). Reads go through
    :meth:`get`; after every committed write call :meth:`store` (insert/update) or
    :meth:`invalidate` (delete). Cache failures never fail the caller: reads fall back
    to ``load``, writes leave a miss and a pending retry.
    """

    def __init__(
        self,
        client: ValkeyClient,
        *,
        resource: str,
        data_class: str,
        load: Callable[[Any], Row | None],
        keys: KeyBuilder | None = None,
        ttl: TtlPolicy | None = None,
        storage: StringStorage | None = None,
        metrics: CacheMetrics | None = None,
        breaker: CircuitBreaker | None = None,
        announce: Announcer | None = None,
        lease_ms: int = DEFAULT_LEASE_MS,
        negative: bool = True,
    ) -> None:
        self.client = client
        self.resource = resource
        self.keys = keys or KeyBuilder()
        self.ttl = ttl or TtlPolicy()
        self.data_class = self.ttl.check(data_class)
        self.storage = storage or StringStorage(client)
        self.metrics = metrics or CacheMetrics()
        self.breaker = breaker or CircuitBreaker()
        self.guard = CacheGuard(self.breaker, self.metrics)
        self.negative = negative
        self._load = load
        self._announce = announce
        self.leases = Leases(client, self.keys, lease_ms=lease_ms)
        self.pending = PendingInvalidations(self.leases.renew_all)

    # keys ---------------------------------------------------------------------------

    def key(self, id: Any) -> str:
        return self.keys.key(self.resource, id)

    def lease_key(self, key: str) -> str:
        return self.leases.lease_key(key)

    # reads --------------------------------------------------------------------------

    def get(self, id: Any) -> Lookup:
        """The row, from the cache or (on a miss) from the database, filled under a lease."""
        lookup, _ = self.read(id)
        return lookup

    def read(
        self,
        id: Any,
        *,
        touch_ms: int | None = None,
        marker: str | None = None,
        marker_ms: int = 0,
    ) -> tuple[Lookup, bool]:
        """:meth:`get` with options, in the same single round trip on a hit.

        ``touch_ms`` resets the TTL on a hit (sliding expiry; default: the class policy).
        ``marker`` is a key set with ``NX PX marker_ms`` on a hit; the second item of the
        result says whether this call set it (sessions write ``last_active`` back to the
        database only then, so at most once per ``marker_ms``).
        """
        key = self.key(id)
        if touch_ms is None and self.ttl.is_sliding(self.data_class):
            touch_ms = self.ttl.ttl_ms(self.data_class)
        reply = self._cache_read(key, touch_ms, marker, marker_ms)
        if reply is None:
            self.metrics.incr(self.data_class, "misses")
            value = self._timed_load(id)
            return Lookup(value=value, hit=False, found=value is not None, source="bypass"), False
        token = reply.token
        if reply.raw is not None:
            try:
                entry = self.storage.parse(reply.raw)
            except SerializationError as exc:
                log.warning("corrupt %s entry %s (%s); reloading", self.data_class, key, exc)
                token = self._renew_one(key)
            else:
                if entry.found:
                    self.metrics.hit(self.data_class)
                else:
                    self.metrics.incr(self.data_class, "negative_hits")
                lookup = Lookup(value=entry.value, hit=True, found=entry.found, source="cache")
                return lookup, reply.marked
        self.metrics.incr(self.data_class, "misses")
        value = self._timed_load(id)
        if token is not None:
            self._fill_one(key, token, value)
        return Lookup(value=value, hit=False, found=value is not None, source="loader"), False

    def _cache_read(
        self, key: str, touch_ms: int | None, marker: str | None, marker_ms: int
    ) -> LeaseRead | None:
        """One round trip: the value (TTL refreshed) or a lease token; None = no cache."""

        def read() -> LeaseRead:
            self.pending.flush()
            return self.leases.read(key, touch_ms=touch_ms, marker=marker, marker_ms=marker_ms)

        try:
            return self.guard.call(self.data_class, "read", read)
        except BreakerOpen:
            self.metrics.incr(self.data_class, "bypassed")
        except VALKEY_ERRORS:
            pass
        return None

    def _timed_load(self, id: Any) -> Row | None:
        return self.metrics.timed_load(self.data_class, lambda: self._load(id))[0]

    # writes -------------------------------------------------------------------------

    def store(self, id: Any, committed: Row, *, ttl_ms: int | None = None) -> Row:
        """After a committed insert/update: the cache ends up holding the database row.

        Deletes the old value and fences off in-flight fills (new lease), then reads the
        row back and fills it under that lease. Returns ``committed``. Never raises on a
        cache failure; a database failure on the read-back leaves a miss.
        """
        key = self.key(id)
        token = self._renew_one(key)
        if token is not None:
            try:
                fresh = self._load(id)
            except DB_FAILURES as exc:  # the write committed; a miss is safe
                log.warning("read-back of %s failed (%s); leaving a miss", key, exc)
            else:
                self._fill_one(key, token, fresh, ttl_ms=ttl_ms)
        self._announce_keys([key])
        return committed

    def invalidate(self, id: Any) -> None:
        """After a committed delete: remove the value and fence off in-flight fills."""
        self.invalidate_many([id])

    def invalidate_many(self, ids: Iterable[Any]) -> None:
        """:meth:`invalidate` for several ids (one script each, one announcement)."""
        keys = [self.key(id) for id in ids]
        for key in keys:
            self._renew_one(key)
        if keys:
            self._announce_keys(keys)

    def _renew_one(self, key: str) -> str | None:
        """Delete the value and take a fresh lease; None (and a pending retry) on failure."""

        def renew() -> str:
            self.pending.flush()
            return self.leases.renew(key)

        try:
            return self.guard.call(self.data_class, "invalidation", renew)
        except VALKEY_ERRORS:
            self.pending.add([key])
            return None

    def _fill_one(
        self, key: str, token: str, value: Row | None, *, ttl_ms: int | None = None
    ) -> bool:
        """Compare-and-set under our lease; False when fenced off or not cacheable."""
        if value is None and not self.negative:
            # Nothing to remember: give the lease back, so a miss leaves no key behind.
            with contextlib.suppress(*VALKEY_ERRORS, BreakerOpen):
                self.guard.call(self.data_class, "fill", self.leases.release, key, token)
            return False
        try:
            payload = self.storage.dumps(Entry(value, value is not None))
        except ValueTooLargeError:
            self.metrics.incr(self.data_class, "too_large")
            return False
        if ttl_ms is None:
            found = value is not None
            ttl_ms = self.ttl.ttl_ms(self.data_class) if found else self.ttl.negative_ms()
        try:
            return self.guard.call(
                self.data_class, "fill", self.leases.fill, key, token, payload, ttl_ms
            )
        except VALKEY_ERRORS:
            return False

    def _announce_keys(self, keys: list[str]) -> None:
        if self._announce is None:
            return
        try:
            self._announce(keys)
        except VALKEY_ERRORS as exc:
            log.warning("invalidation announcement failed (%s); near caches rely on TTL", exc)
