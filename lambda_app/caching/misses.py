"""The miss path of cache-aside: claim, load, store (and XFetch's early recompute).

A miss of a class with neither lock nor lease loads and stores (one write). A locked or
leased class first claims the key (:mod:`claims`: one script re-reads it and takes the
lock and the lease), waits if another caller holds the lock, then stores and releases
in one more script. An early recompute (XFetch) claims the lock without waiting and
serves the current value if someone else holds it. Loader errors propagate, are never
cached, and free the lock at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from valkey.exceptions import ResponseError

from lambda_app.caching.claims import Claim, Claims
from lambda_app.caching.guard import CacheGuard
from lambda_app.caching.lookup import Loader, Lookup, Source
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.policy import ClassPlan
from lambda_app.caching.serialization import SerializationError, ValueTooLargeError
from lambda_app.caching.stampede import RecomputeLock
from lambda_app.caching.storage import Entry
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.valkey import VALKEY_ERRORS

logger = logging.getLogger(__name__)

#: The server answered, but the entry cannot be used (corrupt, wrong type): reload it.
UNUSABLE = (SerializationError, ResponseError)

#: How the owner answers from an entry found on the way (near-cache copy, metrics).
Answer = Callable[[ClassPlan, str, Entry, Source, int], Lookup]


def touch_ms(ttl: TtlPolicy, plan: ClassPlan) -> int | None:
    """The TTL a read resets (sliding classes), else None."""
    return ttl.ttl_ms(plan.name) if plan.sliding else None


class MissPath:
    """Loads and fills for :class:`~cache_aside.CacheAside`; see the module docstring."""

    def __init__(
        self,
        *,
        guard: CacheGuard,
        metrics: CacheMetrics,
        claims: Claims,
        lock: RecomputeLock,
        ttl: TtlPolicy,
        clock_ms: Callable[[], int],
        answer: Answer,
    ) -> None:
        self.guard = guard
        self.metrics = metrics
        self.claims = claims
        self.lock = lock
        self.ttl = ttl
        self._clock_ms = clock_ms
        self._hit = answer

    def bypass(self, plan: ClassPlan, loader: Loader) -> Lookup:
        self.metrics.incr(plan.name, "bypassed")
        self.metrics.incr(plan.name, "misses")
        value, _ = self._load(plan, loader)
        return Lookup(value=value, hit=False, found=value is not None, source="bypass")

    def _load(self, plan: ClassPlan, loader: Loader) -> tuple[Any, int]:
        """Run the loader, timed and counted; its exceptions propagate (never cached)."""
        value, elapsed_ms = self.metrics.timed_load(plan.name, loader)
        return value, max(1, round(elapsed_ms))

    def _claim(
        self, plan: ClassPlan, key: str, *, lock: bool, early: bool = False
    ) -> tuple[Claim, Entry | None]:
        """One round trip: the entry stored meanwhile, or the lock and lease to fill
        under. An unreadable entry (corrupt, wrong type) is replaced under a new claim."""
        leased = plan.leased is not None
        shape = plan.storage.shape
        try:
            claim = self.guard.call(
                plan.name, "claim", self.claims.claim, key, shape,
                lock=lock, lease=leased, early=early, touch_ms=touch_ms(self.ttl, plan),
            )  # fmt: skip
            if claim.raw is None:
                return claim, None
            return claim, plan.storage.parse(claim.raw)
        except UNUSABLE as exc:
            logger.info("unreadable cache entry %s, replacing it: %s", key, exc)
        # Claimed without reading: the fill overwrites the entry whatever its type.
        claim = self.guard.call(
            plan.name, "claim", self.claims.claim, key, shape, lock=lock, lease=leased, early=True
        )
        return claim, None

    def miss(self, plan: ClassPlan, key: str, loader: Loader, generation: int) -> Lookup:
        """No entry: load and fill, under the lock and the lease when the class has them."""
        locked = plan.policy.stampede == "lock"
        if not locked and plan.leased is None:
            return self._load_and_fill(plan, key, loader, generation, Claim())
        try:
            claim, entry = self._claim(plan, key, lock=locked)
            if claim.busy:
                self.metrics.incr(plan.name, "lock_waits")
                waited = self.lock.wait(lambda: self._settled(plan, key))
                if waited is None:  # waited long enough: load without the lock
                    self.metrics.incr(plan.name, "lock_fallbacks")
                    waited = self._claim(plan, key, lock=False)
                claim, entry = waited
        except VALKEY_ERRORS:
            return self.bypass(plan, loader)
        if entry is not None:
            return self._hit(plan, key, entry, "cache", generation)
        return self._load_and_fill(plan, key, loader, generation, claim)

    def _settled(self, plan: ClassPlan, key: str) -> tuple[Claim, Entry | None] | None:
        """One poll of a waiter: the holder's value, or the lock once it is free."""
        claim, entry = self._claim(plan, key, lock=True)
        return None if claim.busy else (claim, entry)

    def refresh_early(
        self, plan: ClassPlan, key: str, entry: Entry, loader: Loader, generation: int
    ) -> Lookup:
        """XFetch chose this caller: recompute if nobody else is, else serve ``entry``."""
        try:
            claim, stored = self._claim(plan, key, lock=True, early=True)
        except VALKEY_ERRORS:
            claim, stored = Claim(busy=True), None
        if claim.busy:
            return self._hit(plan, key, stored or entry, "cache", generation)
        self.metrics.incr(plan.name, "early_recomputes")
        return self._load_and_fill(plan, key, loader, generation, claim)

    def _load_and_fill(
        self, plan: ClassPlan, key: str, loader: Loader, generation: int, claim: Claim
    ) -> Lookup:
        self.metrics.incr(plan.name, "misses")
        try:
            value, delta_ms = self._load(plan, loader)
        except BaseException:
            if claim.lock is not None:  # free the waiters now, not when the lock expires
                self._fill(plan, key, claim, 0, None)
            raise
        self.store(plan, key, value, delta_ms=delta_ms, generation=generation, claim=claim)
        return Lookup(value=value, hit=False, found=value is not None, source="loader")

    def store(
        self,
        plan: ClassPlan,
        key: str,
        value: Any,
        *,
        delta_ms: int,
        generation: int | None,
        claim: Claim,
    ) -> bool:
        """Store the entry with the class TTL under ``claim``; False when not stored."""
        found = value is not None
        ttl_ms = self.ttl.ttl_ms(plan.name) if found else self.ttl.negative_ms()
        if plan.policy.stampede == "xfetch":
            entry = Entry(value, found, delta_ms, self._clock_ms() + ttl_ms)
        else:
            entry = Entry(value, found)
        encoded = None
        if found or plan.policy.negative:
            try:
                encoded = plan.storage.encode(entry)
            except ValueTooLargeError as exc:
                self.metrics.incr(plan.name, "too_large")
                logger.info("not caching %s: %s", key, exc)
        stored = self._fill(plan, key, claim, ttl_ms, encoded)
        if stored and plan.local is not None and generation is not None:
            plan.local.put(key, entry, ttl_ms, generation)
        return stored

    def _fill(self, plan: ClassPlan, key: str, claim: Claim, ttl_ms: int, encoded: Any) -> bool:
        """One write: a plain store, or the claim's fill-and-release script. False when
        nothing was stored (nothing to store, fenced off by a writer, cache failed)."""
        if encoded is None and claim.lock is None:
            return False
        try:
            if claim.lock is None and claim.lease is None:
                self.guard.call(plan.name, "write", plan.storage.write_raw, key, encoded, ttl_ms)
                return True
            stored = self.guard.call(
                plan.name, "fill", self.claims.fill, key, claim, ttl_ms, encoded
            )
        except ResponseError as exc:  # e.g. OOM under maxmemory-policy noeviction
            self.metrics.incr(plan.name, "errors")
            logger.warning("cache refused %s: %s", key, exc)
            return False
        except VALKEY_ERRORS:
            return False
        if encoded is not None and claim.lease is not None and not stored:
            self.metrics.incr(plan.name, "fenced")
            logger.info("not caching %s: invalidated since its lease was taken", key)
        return stored
