"""Cache-aside (lazy loading) done right, for entities and query results.

The usual version (``cached = r.get(k); if cached: return json.loads(cached)``) has five
defects, each fixed here:

* ``if cached:`` treats an empty value (``[]``, ``0``, ``""``) as a miss: a miss is
  "no entry", a value distinct from any cached value, including None;
* nothing remembers that an id does not exist, so every request for it reaches the
  database: the loader returns None for "not found" and a not-found marker is cached
  for ``CACHE_NEGATIVE_TTL`` (60 s);
* ``json.dumps`` fails on ``Decimal``/``datetime``: :mod:`serialization` round-trips them;
* a value over 100 KB is compressed or not cached (:class:`~serialization.Codec`);
* a Valkey outage turns into errors or timeouts on every request: every Valkey call
  goes through a circuit breaker and falls back to the loader; loader (database)
  errors propagate and are never cached.

On top: a TTL per data class with jitter and sliding classes (:mod:`ttl`), stampede
protection per class (:mod:`stampede`), an optional near cache per class
(:mod:`near_cache`) and metrics per class (:mod:`metrics`).

Classes whose rows writers change (``ClassPolicy(lease=True)``: product, user, session
by default) fill under the write side's leases (:mod:`leases`): the miss path takes the
key's lease before loading and stores only while the lease stands, so a reader that
loaded a row before a writer's commit and invalidation cannot cache that old row
afterwards (the stale-set-after-delete race). Query results and aggregates do not need
it: query keys carry a group version that every write bumps, so a late fill lands on a
key nobody reads any more, and aggregates are never invalidated by writes (they are
TTL-bounded by design).

The hit path is one round trip (``GET``, ``GETEX`` for sliding classes, or
``HGETALL``) plus decoding; nothing else is called on a hit, leased or not. A miss of a
leased or locked class costs two more (:mod:`claims`): one script re-reads the key and
takes the lock and the lease, one stores the value and releases both. An XFetch early
recompute takes the lock without waiting; whoever finds it taken serves the current
value, so at most one early recompute of a key runs at a time.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lambda_app.caching import prefetch
from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.claims import Claim, Claims
from lambda_app.caching.events import DEFAULT_CHANNEL_NAME, publish_invalidation
from lambda_app.caching.guard import CacheGuard
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import Leases
from lambda_app.caching.lookup import Loader, Lookup, Source
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.misses import UNUSABLE, MissPath, touch_ms
from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPlan, ClassPolicy, build_plans
from lambda_app.caching.serialization import Codec
from lambda_app.caching.stampede import RecomputeLock, should_recompute_early
from lambda_app.caching.storage import Entry, delete_keys
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.valkey import VALKEY_ERRORS, CacheClient, TrackingClient

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings

logger = logging.getLogger(__name__)

def _now_ms() -> int:
    return int(time.time() * 1000)


class CacheAside:
    """Cache-aside reads and writes for every data class; see the module docstring."""

    def __init__(
        self,
        client: CacheClient,
        *,
        ttl: TtlPolicy | None = None,
        codec: Codec | None = None,
        policies: Mapping[str, ClassPolicy] | None = None,
        breaker: CircuitBreaker | None = None,
        metrics: CacheMetrics | None = None,
        near: NearCache | TrackingNearCache | None = None,
        lock: RecomputeLock | None = None,
        keys: KeyBuilder | None = None,
        xfetch_beta: float = 1.0,
        clock_ms: Callable[[], int] = _now_ms,
        leases: Leases | None = None,
    ) -> None:
        if xfetch_beta <= 0:
            raise ValueError(f"xfetch_beta must be > 0, got {xfetch_beta}")
        self.client = client
        self.ttl = ttl or TtlPolicy()
        self.codec = codec or Codec()
        self.breaker = breaker or CircuitBreaker()
        self.metrics = metrics or CacheMetrics(self.ttl.data_classes)
        self.guard = CacheGuard(self.breaker, self.metrics)
        self.keys = keys or KeyBuilder()
        self.near = near
        self.lock = lock or RecomputeLock(client)
        self.leases = leases or Leases(client, self.keys)
        self.claims = Claims(
            client, self.keys, lock_ms=self.lock.lease_ms, lease_ms=self.leases.lease_ms
        )
        self.xfetch_beta = xfetch_beta
        self.channel = self.keys.channel(DEFAULT_CHANNEL_NAME)
        self._clock_ms = clock_ms
        self.misses = MissPath(
            guard=self.guard, metrics=self.metrics, claims=self.claims, lock=self.lock,
            ttl=self.ttl, clock_ms=clock_ms, answer=self._hit,
        )  # fmt: skip
        self._plans = build_plans(
            self.ttl, DEFAULT_POLICIES if policies is None else policies, client, self.codec,
            near,
        )
        self._any_leased = any(plan.leased is not None for plan in self._plans.values())

    @classmethod
    def from_settings(
        cls,
        settings: CacheSettings,
        client: CacheClient,
        *,
        near_client: TrackingClient | None = None,
        policies: Mapping[str, ClassPolicy] | None = None,
    ) -> CacheAside:
        """Wire TTLs, codec, breaker and near cache from ``Settings.cache``.

        ``NEAR_CACHE_CLASSES`` turns the near cache on for those classes: through
        RESP3 tracking when ``near_client`` (``protocol=3, cache_enabled=True``) is
        given, else a pub/sub-invalidated L1 whose subscriber starts here.
        """
        keys = KeyBuilder(settings.prefix)
        chosen = dict(DEFAULT_POLICIES if policies is None else policies)
        for name in settings.near_cache_classes:
            chosen[name] = replace(chosen.get(name, ClassPolicy()), near=True)
        near: NearCache | TrackingNearCache | None = None
        if settings.near_cache_classes:
            if near_client is not None:
                near = TrackingNearCache(near_client, memo_size=settings.near_cache_size)
            else:
                near = NearCache(settings.near_cache_size)
                near.listen(client, keys.channel(DEFAULT_CHANNEL_NAME))
        return cls(
            client,
            ttl=TtlPolicy.from_settings(settings),
            codec=Codec.from_settings(settings),
            policies=chosen,
            breaker=CircuitBreaker.from_settings(settings),
            near=near,
            keys=keys,
        )

    # Public API -------------------------------------------------------------------

    def policy(self, data_class: str) -> ClassPolicy:
        return self._get_plan(data_class).policy

    def get(self, data_class: str, key: str, loader: Loader) -> Lookup:
        """Read through the cache; ``loader()`` returns the value, or None if it does not exist."""
        plan = self._get_plan(data_class)
        generation = 0
        if plan.local is not None:
            entry = plan.local.get(key)
            if entry is not None:
                return self._answer(plan, entry, "near")
            generation = plan.local.generation()
        try:
            entry, local = self.guard.call(plan.name, "read", self._read, plan, key)
        except VALKEY_ERRORS:
            return self.misses.bypass(plan, loader)
        except UNUSABLE as exc:
            self.metrics.incr(plan.name, "errors")
            logger.warning("unreadable cache entry %s, reloading: %s", key, exc)
            entry, local = None, False
        if entry is None:
            return self.misses.miss(plan, key, loader, generation)
        if (
            plan.policy.stampede == "xfetch"
            and entry.found
            and should_recompute_early(
                self._clock_ms(), entry.delta_ms, entry.expires_at_ms, self.xfetch_beta
            )
        ):
            return self.misses.refresh_early(plan, key, entry, loader, generation)
        return self._hit(plan, key, entry, "near" if local else "cache", generation)

    def set(self, data_class: str, key: str, value: Any) -> bool:
        """Write-through: store ``value`` (None stores the not-found marker) with the class
        TTL. False when not stored (too large, cache unavailable). Other instances' near
        caches are told to drop the key. A leased class first replaces the key's lease
        (fencing off fills in flight), then fills under it (two round trips)."""
        plan = self._get_plan(data_class)
        stored = False
        if plan.leased is None:
            stored = self.misses.store(plan, key, value, delta_ms=0, generation=None, claim=Claim())
        else:
            try:  # fence off fills in flight, then fill under our own lease
                token = self.guard.call(plan.name, "invalidation", self.leases.renew, key)
            except VALKEY_ERRORS:
                token = None
            if token is not None:
                stored = self.misses.store(
                    plan, key, value, delta_ms=0, generation=None, claim=Claim(lease=token)
                )
        self._invalidate_near([key], publish=True)
        return stored

    def delete(self, keys: str | Iterable[str]) -> int:
        """Invalidate keys in Valkey and in every near cache; returns how many existed.

        When some class is leased, the keys' leases go first: a fill in flight that read
        the database before this delete then cannot store its row after it.
        Raises the Valkey error when the cache is unreachable: a failed invalidation
        must not look like a success to the writer.
        """
        names = [keys] if isinstance(keys, str) else list(keys)
        if not names:
            return 0
        self._invalidate_near(names, publish=False)
        count = self.breaker.call(self._delete, names)
        self._invalidate_near(names, publish=True)
        return count

    def stats(self) -> dict[str, Any]:
        """Snapshot for ``/cache/stats``: counters per data class and the breaker."""
        return {"classes": self.metrics.snapshot(), "breaker": self.breaker.snapshot()}

    def close(self) -> None:
        """Stop the near-cache subscriber, if any."""
        if self.near is not None:
            self.near.close()

    # The hit -------------------------------------------------------------------------

    def _get_plan(self, data_class: str) -> ClassPlan:
        plan = self._plans.get(data_class)
        if plan is None:
            self.ttl.check(data_class)  # raises UnknownDataClassError
            raise AssertionError(data_class)  # pragma: no cover
        return plan

    def _read(self, plan: ClassPlan, key: str) -> tuple[Entry | None, bool]:
        if plan.tracking is not None and plan.tracked_storage is not None:
            return plan.tracking.read(plan.tracked_storage, key)
        if plan.storage.shape == "string" and not plan.sliding:
            raw = prefetch.take(key)  # fetched in the rate limiter's round trip
            if raw is not prefetch.MISSING:
                return (None if raw is None else plan.storage.parse(raw)), False
        return plan.storage.read(key, touch_ms=touch_ms(self.ttl, plan)), False

    def _hit(
        self, plan: ClassPlan, key: str, entry: Entry, source: Source, generation: int
    ) -> Lookup:
        """Answer from a cached entry (copied into the near cache, if the class has one)."""
        if plan.local is not None:
            plan.local.put(key, entry, self.ttl.ttl_ms(plan.name), generation)
        elif plan.sliding and not entry.found:
            # The sliding read gave a not-found marker the class TTL: put the short
            # negative TTL back (rare: only negative hits of sliding classes pay this).
            with contextlib.suppress(*VALKEY_ERRORS):
                self.guard.call(
                    plan.name, "expire", self.client.pexpire, key, self.ttl.negative_ms()
                )
        return self._answer(plan, entry, source)

    def _answer(self, plan: ClassPlan, entry: Entry, source: Source) -> Lookup:
        if entry.found:
            self.metrics.hit(plan.name, near=source == "near")
        else:
            self.metrics.incr(plan.name, "negative_hits")
        return Lookup(value=entry.value, hit=True, found=entry.found, source=source)

    # Invalidation --------------------------------------------------------------------

    def _delete(self, names: list[str]) -> int:
        if self._any_leased:
            self.leases.revoke(names)
        return delete_keys(self.client, names)

    def _invalidate_near(self, keys: list[str], *, publish: bool) -> None:
        """Drop keys from this process's near cache; with ``publish``, tell the others."""
        near = self.near
        if near is None:
            return
        near.invalidate(keys)
        if publish and isinstance(near, NearCache):
            try:
                self.breaker.call(
                    publish_invalidation, self.client, keys, channel=near.channel or self.channel
                )
            except VALKEY_ERRORS as exc:
                logger.warning("invalidation publish failed: %s", exc)
