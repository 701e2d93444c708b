"""Everything the API and the warmer use, built once per process from ``Settings``.

A Lambda execution environment serves many invocations; building clients, scripts and
repositories once (at the first request) and reusing them is what keeps warm
invocations fast. One shared :class:`~lambda_app.caching.metrics.CacheMetrics` and one
circuit breaker serve every pattern, so ``/cache/stats`` sees all data classes and a
Valkey outage is detected once for all of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_app.caching.aggregates import AggregateCache
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.events import DEFAULT_CHANNEL_NAME, publish_invalidation
from lambda_app.caching.invalidation import Announcer, GroupVersions, Invalidator
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.login_limit import LoginLimiter
from lambda_app.caching.near_cache import NearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy
from lambda_app.caching.rate_limit import RateLimiter
from lambda_app.caching.sessions import SessionStore
from lambda_app.caching.storage import StringStorage
from lambda_app.caching.warming import Warmer
from lambda_app.caching.write_through import WriteThrough
from lambda_app.clients.mysql import Database, get_db
from lambda_app.clients.valkey import ValkeyClient, get_valkey
from lambda_app.data.base import Row
from lambda_app.data.credentials import CredentialRepository
from lambda_app.data.repositories import (
    ProductRepository,
    SessionRepository,
    StatsRepository,
    UserRepository,
)
from lambda_app.services.cache_admin import CacheAdminService
from lambda_app.services.products import ProductService
from lambda_app.services.sessions import SessionService
from lambda_app.services.stats import StatsService
from lambda_app.services.users import UserService
from lambda_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: The dashboard is an expensive aggregate: on a miss exactly one caller recomputes it
#: (lock) instead of the read side's default XFetch, which only spreads refreshes of an
#: entry that still exists and lets a cold miss through to every caller at once.
POLICIES = {**DEFAULT_POLICIES, "dashboard": ClassPolicy(stampede="lock")}


@dataclass(frozen=True)
class Services:
    """The service layer and what it is made of (tests and scripts reach inside)."""

    settings: Settings
    client: ValkeyClient
    db: Database
    keys: KeyBuilder
    cache: CacheAside
    invalidator: Invalidator
    groups: GroupVersions
    products: ProductService
    users: UserService
    sessions: SessionService
    stats: StatsService
    cache_admin: CacheAdminService
    rate_limiter: RateLimiter

    def close(self) -> None:
        """Stop background work (the near-cache subscriber); clients stay shared."""
        self.cache.close()


def _announcer(client: ValkeyClient, cache: CacheAside, channel: str) -> Announcer:
    """Every write's invalidation: drop this process's near copy at once, then tell the
    other instances (their subscribers drop theirs; a standalone worker can log them).
    The publish goes through the shared breaker: a hung cache costs no write a timeout."""

    def announce(keys: Sequence[str]) -> None:
        if isinstance(cache.near, NearCache):
            cache.near.invalidate(keys)
        cache.breaker.call(publish_invalidation, client, keys, channel=channel)

    return announce


def build_services(settings: Settings) -> Services:
    """A new, fully wired service layer (``get_services`` caches one per process)."""
    client = get_valkey(settings)
    db = get_db(settings)
    keys = KeyBuilder(settings.cache.prefix)
    cache = CacheAside.from_settings(settings.cache, client, policies=POLICIES)
    announce = _announcer(client, cache, keys.channel(DEFAULT_CHANNEL_NAME))
    groups = GroupVersions(
        client,
        keys,
        version_ttl_seconds=max(settings.cache.ttls.values()),
        breaker=cache.breaker,
    )
    invalidator = Invalidator(client, announce=announce, breaker=cache.breaker)
    storage = StringStorage(client, cache.codec)

    def entries(resource: str, load: Callable[[Any], Row | None]) -> WriteThrough:
        return WriteThrough(
            client,
            resource=resource,
            data_class=resource,
            load=load,
            keys=keys,
            ttl=cache.ttl,
            storage=storage,
            metrics=cache.metrics,
            breaker=cache.breaker,
            announce=announce,
        )

    product_repo, user_repo = ProductRepository(db), UserRepository(db)
    product_entries, user_entries = (
        entries("product", product_repo.get),
        entries("user", user_repo.get),
    )
    session_store = SessionStore(
        client,
        SessionRepository(db),
        keys=keys,
        ttl_seconds=settings.cache.ttls["session"],
        max_lifetime_seconds=settings.sessions.max_lifetime,
        negative_ttl_seconds=settings.cache.negative_ttl,
        metrics=cache.metrics,
        breaker=cache.breaker,
        announce=announce,
    )
    return Services(
        settings=settings,
        client=client,
        db=db,
        keys=keys,
        cache=cache,
        invalidator=invalidator,
        groups=groups,
        products=ProductService(product_repo, cache, product_entries, groups),
        users=UserService(user_repo, user_entries, groups, sessions=session_store),
        sessions=SessionService(
            session_store,
            CredentialRepository(db),
            LoginLimiter(
                client,
                prefix=settings.cache.prefix,
                per_address=settings.rate_limit.login_requests,
                per_address_account=settings.rate_limit.login_address_account_failures,
                per_account=settings.rate_limit.login_account_failures,
                window_seconds=settings.rate_limit.login_window,
                breaker=cache.breaker,
            ),
        ),
        stats=StatsService(StatsRepository(db), AggregateCache(cache)),
        cache_admin=CacheAdminService(
            client=client,
            keys=keys,
            maxmemory_policy=settings.cache.maxmemory_policy,
            warmer=Warmer(client, keys=keys, ttl=cache.ttl, storage=storage),
            invalidator=invalidator,
            groups=groups,
            products=product_repo,
            users=user_repo,
            entries={
                "product": product_entries,
                "user": user_entries,
                "session": session_store.cache,
            },
            metrics=cache.metrics,
            breaker=cache.breaker,
        ),
        rate_limiter=RateLimiter(
            client,
            prefix=settings.cache.prefix,
            limit=settings.rate_limit.requests,
            window_seconds=settings.rate_limit.window,
            algorithm=settings.rate_limit.algorithm,
            breaker=cache.breaker,
        ),
    )


_lock = threading.Lock()
_built: list[tuple[Settings, Services]] = []


def get_services(settings: Settings | None = None) -> Services:
    """The process-wide services for ``settings`` (default: the environment's),
    built on first use. Settings are compared by value (they are frozen)."""
    wanted = settings if settings is not None else get_settings()
    for known, services in _built:
        if known is wanted or known == wanted:
            return services
    with _lock:
        for known, services in _built:
            if known == wanted:
                return services
        services = build_services(wanted)
        _built.append((wanted, services))
        return services


def reset_services() -> None:
    """Forget every built service layer (tests; after a settings change)."""
    with _lock:
        for _, services in _built:
            services.close()
        _built.clear()


__all__ = ["Services", "build_services", "get_services", "reset_services"]
