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
``HGETALL``) plus decoding; nothing else is called on a hit, leased or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from valkey.exceptions import ResponseError

from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.events import DEFAULT_CHANNEL_NAME, publish_invalidation
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import Leases
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPlan, ClassPolicy
from lambda_app.caching.serialization import Codec, SerializationError, ValueTooLargeError
from lambda_app.caching.stampede import RecomputeLock, should_recompute_early
from lambda_app.caching.storage import (
    Entry,
    StringStorage,
    delete_keys,
    make_storage,
)
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.valkey import VALKEY_ERRORS

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings

logger = logging.getLogger(__name__)

#: The server answered, but the entry cannot be used (corrupt, wrong type): reload it.
_UNUSABLE = (SerializationError, ResponseError)

Source = Literal["near", "cache", "loader", "bypass"]
Loader = Callable[[], Any]


class Lookup(NamedTuple):
    """The answer of :meth:`CacheAside.get`."""

    #: The value, or None when it does not exist.
    value: Any
    #: Answered without calling the loader (near cache, Valkey, or another caller's load).
    hit: bool
    #: False when the value does not exist (loader returned None, or a cached marker).
    found: bool
    #: ``near`` (L1), ``cache`` (Valkey), ``loader`` (miss, loaded and cached) or
    #: ``bypass`` (cache unavailable or breaker open: loaded, not cached).
    source: Source


def _now_ms() -> int:
    return int(time.time() * 1000)


class CacheAside:
    """Cache-aside reads and writes for every data class; see the module docstring."""

    def __init__(
        self,
        client: Any,
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
        self.client = client
        self.ttl = ttl or TtlPolicy()
        self.codec = codec or Codec()
        self.breaker = breaker or CircuitBreaker()
        self.metrics = metrics or CacheMetrics(self.ttl.data_classes)
        self.keys = keys or KeyBuilder()
        self.near = near
        self.lock = lock or RecomputeLock(client)
        self.leases = leases or Leases(client, self.keys)
        if xfetch_beta <= 0:
            raise ValueError(f"xfetch_beta must be > 0, got {xfetch_beta}")
        self.xfetch_beta = xfetch_beta
        self.channel = self.keys.channel(DEFAULT_CHANNEL_NAME)
        self._clock_ms = clock_ms
        chosen = dict(DEFAULT_POLICIES if policies is None else policies)
        self._plans: dict[str, ClassPlan] = {}
        for name in self.ttl.data_classes:
            self._plans[name] = self._plan(name, chosen.pop(name, ClassPolicy()))
        if chosen:
            raise ValueError(
                f"policy for unknown data class {sorted(chosen)[0]!r}: expected one of "
                + ", ".join(self.ttl.data_classes)
            )
        self._any_leased = any(plan.leased is not None for plan in self._plans.values())

    def _plan(self, name: str, policy: ClassPolicy) -> ClassPlan:
        storage = make_storage(policy.shape, self.client, self.codec)
        sliding = self.ttl.is_sliding(name)
        plan = ClassPlan(name, policy, storage, sliding)
        if policy.lease:
            assert isinstance(storage, StringStorage)  # ClassPolicy checked the shape
            plan.leased = storage
        if not policy.near:
            return plan
        if sliding:
            raise ValueError(
                f"data class {name!r} is sliding (refreshed on each hit) and cannot use the "
                "near cache: a local hit would not refresh its TTL"
            )
        if self.near is None:
            raise ValueError(f"data class {name!r} asks for the near cache but none was given")
        if isinstance(self.near, TrackingNearCache):
            plan.tracking = self.near
            plan.tracked_storage = self.near.storage(policy.shape, self.codec)
        else:
            plan.local = self.near
        return plan

    @classmethod
    def from_settings(
        cls,
        settings: CacheSettings,
        client: Any,
        *,
        near_client: Any = None,
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
        if not self.breaker.allow():
            return self._bypass(plan, loader)
        try:
            entry, local = self._read(plan, key)
        except VALKEY_ERRORS as exc:
            self._cache_failed(plan, "read", exc)
            return self._bypass(plan, loader)
        except _UNUSABLE as exc:
            self.breaker.record_success()
            self.metrics.incr(plan.name, "errors")
            logger.warning("unreadable cache entry %s, reloading: %s", key, exc)
            entry, local = None, False
        else:
            self.breaker.record_success()
        if entry is not None:
            if not (
                plan.policy.stampede == "xfetch"
                and entry.found
                and should_recompute_early(
                    self._clock_ms(), entry.delta_ms, entry.expires_at_ms, self.xfetch_beta
                )
            ):
                return self._hit(plan, key, entry, "near" if local else "cache", generation)
            self.metrics.incr(plan.name, "early_recomputes")
        if plan.policy.stampede == "lock":  # (never an early recompute: that is XFetch)
            return self._get_locked(plan, key, loader, generation)
        return self._load_and_store(plan, key, loader, generation, early=entry is not None)

    def set(self, data_class: str, key: str, value: Any) -> bool:
        """Write-through: store ``value`` (None stores the not-found marker) with the class
        TTL. False when not stored (too large, cache unavailable). Other instances' near
        caches are told to drop the key. A leased class first replaces the key's lease
        (fencing off fills in flight), then fills under it (two round trips)."""
        plan = self._get_plan(data_class)
        stored = False
        # A leased class: fence off fills in flight, then fill under our own lease.
        token = self._renew(plan, key) if plan.leased is not None else None
        if plan.leased is None or token is not None:
            stored = self._store(plan, key, value, 0, None, token=token)
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
        try:
            if self._any_leased:
                self.leases.revoke(names)
            count = delete_keys(self.client, names)
        except VALKEY_ERRORS:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        self._invalidate_near(names, publish=True)
        return count

    def stats(self) -> dict[str, Any]:
        """Snapshot for ``/cache/stats``: counters per data class and the breaker."""
        return {"classes": self.metrics.snapshot(), "breaker": self.breaker.snapshot()}

    def close(self) -> None:
        """Stop the near-cache subscriber, if any."""
        if self.near is not None:
            self.near.close()

    # Internals ---------------------------------------------------------------------

    def _get_plan(self, data_class: str) -> ClassPlan:
        plan = self._plans.get(data_class)
        if plan is None:
            self.ttl.check(data_class)  # raises UnknownDataClassError
            raise AssertionError(data_class)  # pragma: no cover
        return plan

    def _read(self, plan: ClassPlan, key: str) -> tuple[Entry | None, bool]:
        if plan.tracking is not None and plan.tracked_storage is not None:
            return plan.tracking.read(plan.tracked_storage, key)
        touch = self.ttl.ttl_ms(plan.name) if plan.sliding else None
        return plan.storage.read(key, touch_ms=touch), False

    def _read_quiet(self, plan: ClassPlan, key: str) -> Entry | None:
        """A re-read while waiting for a lock; unreadable entries count as absent."""
        try:
            return self._read(plan, key)[0]
        except _UNUSABLE:
            return None

    def _keep_negative_ttl(self, plan: ClassPlan, key: str) -> None:
        """The sliding read just gave a not-found marker the class TTL; put the short
        negative TTL back (rare: only negative hits of sliding classes pay this)."""
        try:
            self.client.pexpire(key, self.ttl.negative_ms())
        except VALKEY_ERRORS as exc:
            self._cache_failed(plan, "expire", exc)

    def _hit(
        self, plan: ClassPlan, key: str, entry: Entry, source: Source, generation: int
    ) -> Lookup:
        """Answer from a cached entry (copied into the near cache, if the class has one)."""
        if plan.local is not None:
            plan.local.put(key, entry, self.ttl.ttl_ms(plan.name), generation)
        elif plan.sliding and not entry.found:
            self._keep_negative_ttl(plan, key)
        return self._answer(plan, entry, source)

    def _answer(self, plan: ClassPlan, entry: Entry, source: Source) -> Lookup:
        if entry.found:
            self.metrics.hit(plan.name, near=source == "near")
        else:
            self.metrics.incr(plan.name, "negative_hits")
        return Lookup(entry.value, True, entry.found, source)

    def _cache_failed(self, plan: ClassPlan, what: str, exc: BaseException) -> None:
        self.breaker.record_failure()
        self.metrics.incr(plan.name, "errors")
        logger.warning("cache %s failed for %s: %s", what, plan.name, exc)

    def _load(self, plan: ClassPlan, loader: Loader) -> tuple[Any, int]:
        """Run the loader, timed and counted; its exceptions propagate (never cached)."""
        value, elapsed_ms = self.metrics.timed_load(plan.name, loader)
        return value, max(1, round(elapsed_ms))

    def _bypass(self, plan: ClassPlan, loader: Loader) -> Lookup:
        self.metrics.incr(plan.name, "bypassed")
        self.metrics.incr(plan.name, "misses")
        value, _ = self._load(plan, loader)
        return Lookup(value, False, value is not None, "bypass")

    def _load_and_store(
        self, plan: ClassPlan, key: str, loader: Loader, generation: int, *, early: bool = False
    ) -> Lookup:
        """Load and fill; a leased class first takes the key's lease (one round trip that
        also returns a value stored meanwhile). ``early``: an XFetch recompute of a value
        that is still there."""
        token: str | None = None
        if plan.leased is not None:
            try:
                entry, token = self._take_lease(plan, plan.leased, key, early)
            except VALKEY_ERRORS as exc:
                self._cache_failed(plan, "lease", exc)
                return self._bypass(plan, loader)
            self.breaker.record_success()
            if entry is not None:
                return self._hit(plan, key, entry, "cache", generation)
        self.metrics.incr(plan.name, "misses")
        value, delta_ms = self._load(plan, loader)
        self._store(plan, key, value, delta_ms, generation, token=token)
        return Lookup(value, False, value is not None, "loader")

    def _take_lease(
        self, plan: ClassPlan, strings: StringStorage, key: str, early: bool
    ) -> tuple[Entry | None, str | None]:
        """The entry stored meanwhile, or the lease to fill under (taken before the load,
        so any write committed after it fences the fill off)."""
        touch = self.ttl.ttl_ms(plan.name) if plan.sliding else None
        try:
            reply = self.leases.read(key, touch_ms=touch, take=early)
            if reply.raw is None:
                return None, reply.token
            return strings.parse(reply.raw), None
        except VALKEY_ERRORS:
            raise  # the caller falls back to the loader
        except _UNUSABLE as exc:  # corrupt or wrong type: replace it under a new lease
            logger.info("unreadable cache entry %s, replacing it: %s", key, exc)
            return None, self.leases.renew(key)

    def _renew(self, plan: ClassPlan, key: str) -> str | None:
        """A writer's lease (fences off every fill in flight); None if the cache failed."""
        if not self.breaker.allow():
            return None
        try:
            token = self.leases.renew(key)
        except VALKEY_ERRORS as exc:
            self._cache_failed(plan, "invalidation", exc)
            return None
        self.breaker.record_success()
        return token

    def _get_locked(self, plan: ClassPlan, key: str, loader: Loader, generation: int) -> Lookup:
        lock_key = self.keys.companion(key, "lock")
        entry: Entry | None = None
        try:
            token = self.lock.acquire(lock_key)
            if token is None:
                self.metrics.incr(plan.name, "lock_waits")
                entry, token = self.lock.wait(lock_key, lambda: self._read_quiet(plan, key))
            if token is not None and plan.leased is None:
                # We hold the lock; the previous holder may have just written the value.
                # (A leased class re-reads in the same round trip as taking its lease.)
                entry = self._read_quiet(plan, key)
        except VALKEY_ERRORS as exc:
            self._cache_failed(plan, "lock", exc)
            return self._bypass(plan, loader)
        if token is None:
            if entry is not None:
                return self._hit(plan, key, entry, "cache", generation)
            self.metrics.incr(plan.name, "lock_fallbacks")  # waited long enough
            return self._load_and_store(plan, key, loader, generation)
        try:
            if entry is not None:
                return self._hit(plan, key, entry, "cache", generation)
            return self._load_and_store(plan, key, loader, generation)
        finally:
            self._release(plan, lock_key, token)

    def _release(self, plan: ClassPlan, lock_key: str, token: str) -> None:
        try:
            self.lock.release(lock_key, token)
        except VALKEY_ERRORS as exc:  # the lease expires by itself
            self._cache_failed(plan, "unlock", exc)

    def _store(
        self,
        plan: ClassPlan,
        key: str,
        value: Any,
        delta_ms: int,
        generation: int | None,
        *,
        token: str | None = None,
    ) -> bool:
        """Store the entry with the class TTL; False when not stored."""
        found = value is not None
        if not found and not plan.policy.negative:
            return False
        ttl_ms = self.ttl.ttl_ms(plan.name) if found else self.ttl.negative_ms()
        if plan.policy.stampede == "xfetch":
            entry = Entry(value, found, delta_ms, self._clock_ms() + ttl_ms)
        else:
            entry = Entry(value, found)
        if not self.breaker.allow():
            return False
        try:
            stored = self._write(plan, key, entry, ttl_ms, token)
        except ValueTooLargeError as exc:
            self.breaker.record_success()
            self.metrics.incr(plan.name, "too_large")
            logger.info("not caching %s: %s", key, exc)
            return False
        except ResponseError as exc:  # e.g. OOM under maxmemory-policy noeviction
            self.breaker.record_success()
            self.metrics.incr(plan.name, "errors")
            logger.warning("cache refused %s: %s", key, exc)
            return False
        except VALKEY_ERRORS as exc:
            self._cache_failed(plan, "write", exc)
            return False
        self.breaker.record_success()
        if stored and plan.local is not None and generation is not None:
            plan.local.put(key, entry, ttl_ms, generation)
        return stored

    def _write(
        self, plan: ClassPlan, key: str, entry: Entry, ttl_ms: int, token: str | None
    ) -> bool:
        """One write; a leased class's is a compare-and-set under ``token`` (False: a
        writer invalidated the key since the lease was taken, so the entry may be stale)."""
        if plan.leased is None:
            plan.storage.write(key, entry, ttl_ms)
            return True
        if token and self.leases.fill(key, token, plan.leased.dumps(entry), ttl_ms):
            return True
        self.metrics.incr(plan.name, "fenced")
        logger.info("not caching %s: invalidated since its lease was taken", key)
        return False

    def _invalidate_near(self, keys: list[str], *, publish: bool) -> None:
        """Drop keys from this process's near cache; with ``publish``, tell the others."""
        near = self.near
        if near is None:
            return
        near.invalidate(keys)
        if publish and isinstance(near, NearCache) and self.breaker.allow():
            try:
                publish_invalidation(self.client, keys, channel=near.channel or self.channel)
            except VALKEY_ERRORS as exc:
                self.breaker.record_failure()
                logger.warning("invalidation publish failed: %s", exc)
            else:
                self.breaker.record_success()
