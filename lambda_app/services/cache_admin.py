"""Cache administration: warming, invalidation by key, pattern or tag, statistics.

Operator actions, so unlike the request path they report a cache outage
(``Unavailable``) instead of quietly degrading: a warm or an invalidation that did not
run must not look as if it had.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.invalidation import GroupVersions, Invalidator, primaries
from lambda_app.caching.keys import InvalidKeyError, KeyBuilder
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.ttl import DATA_CLASSES
from lambda_app.caching.warming import Warmer
from lambda_app.caching.write_through import WriteThrough
from lambda_app.clients.valkey import VALKEY_ERRORS, ValkeyClient
from lambda_app.data.base import Row
from lambda_app.data.repositories import ProductRepository, UserRepository
from lambda_app.data.schema import MAX_WARM, PRODUCT_RANKINGS
from lambda_app.services.errors import BadRequest, Unavailable, domain_errors
from lambda_app.services.validation import bounded, choice, entity_id

log = logging.getLogger(__name__)

#: What ``invalidate`` may delete: every cached data class but sessions (credentials).
INVALIDATABLE: tuple[str, ...] = tuple(name for name in DATA_CLASSES if name != "session")

#: INFO figures reported by ``stats`` (summed over the primaries of a cluster).
SERVER_COUNTERS = ("evicted_keys", "expired_keys", "keyspace_hits", "keyspace_misses")


def forget_reseeded(client: ValkeyClient, prefix: str) -> int | None:
    """After a seed replaced every row: delete every key under the app's prefix (cached
    rows, sessions, leases, group versions, counters), or the old rows would answer for
    up to their TTL (a product's price changed before the reseed, for an hour). The
    number deleted; None, logged, when the cache did not answer (TTLs then bound it)."""
    try:
        return Invalidator(client).delete_matching(f"{prefix}:*")
    except VALKEY_ERRORS as exc:
        log.warning("cache not cleared after seeding (%s); entries expire with their TTL", exc)
        return None


@contextlib.contextmanager
def cache_required(what: str) -> Iterator[None]:
    """Valkey errors -> ``Unavailable("cache")`` for operator actions."""
    try:
        yield
    except VALKEY_ERRORS as exc:
        log.warning("%s: cache unavailable: %s", what, exc)
        raise Unavailable("cache", str(exc) or type(exc).__name__) from None


class CacheAdminService:
    def __init__(
        self,
        *,
        client: ValkeyClient,
        keys: KeyBuilder,
        maxmemory_policy: str,
        warmer: Warmer,
        invalidator: Invalidator,
        groups: GroupVersions,
        products: ProductRepository,
        users: UserRepository,
        entries: Mapping[str, WriteThrough],
        metrics: CacheMetrics,
        breaker: CircuitBreaker,
    ) -> None:
        self.client = client
        self.keys = keys
        self.maxmemory_policy = maxmemory_policy
        self.warmer = warmer
        self.invalidator = invalidator
        self.groups = groups
        self.products = products
        self.users = users
        self.entries = entries
        self.metrics = metrics
        self.breaker = breaker

    # warming -------------------------------------------------------------------------

    def warm(
        self, products_top: int = 100, by: str = "views", *, skip_fresh: bool = False
    ) -> dict[str, Any]:
        """Warm the top-N products (by views or sales): ``{"warmed", "seconds", "skipped",
        "missing", "fenced", "too_large", "batches"}``; ``seconds`` includes the query."""
        n = bounded(products_top, "products_top", 1, MAX_WARM)
        by = choice(by, "by", PRODUCT_RANKINGS)
        started = time.perf_counter()
        with domain_errors(), cache_required("warm"):
            # Ids only: the rows are read by the warm after it holds their leases.
            ids = self.products.top_ids(n, by)  # type: ignore[arg-type]
            report = self.warmer.warm(
                "product", "product", ids, self._products_by_id, skip_fresh=skip_fresh
            )
        result = report.as_dict()
        result["seconds"] = round(time.perf_counter() - started, 6)
        log.info("warmed top %d products by %s: %s", n, by, result)
        return result

    def warm_user(self, user_id: int) -> dict[str, Any]:
        """On-demand warming of one user (e.g. just before they log in)."""
        user_id = entity_id(user_id, "user_id")
        with domain_errors(), cache_required("warm user"):
            report = self.warmer.warm("user", "user", [user_id], self._user_by_id)
        return report.as_dict()

    def _products_by_id(self, ids: Any) -> dict[Any, Row]:
        return {row["id"]: row for row in self.products.get_many(ids)}

    def _user_by_id(self, ids: Any) -> dict[Any, Row]:
        rows = (self.users.get(user_id) for user_id in ids)
        return {row["id"]: row for row in rows if row is not None}

    # invalidation --------------------------------------------------------------------

    def invalidate(
        self, key: str | None = None, pattern: str | None = None, tag: str | None = None
    ) -> dict[str, Any]:
        """Exactly one of: a ``key``, a glob ``pattern`` (``SCAN`` + ``UNLINK``, never
        ``KEYS``), or a ``tag`` ``"<resource>:<id>"`` (e.g. ``"user:42"``: the entity's
        key, and its whole group in O(1)). Returns ``{"deleted": n}``; for a tag, ``n``
        counts the entity key, and ``version`` is the group's new version."""
        given = [
            name
            for name, value in (("key", key), ("pattern", pattern), ("tag", tag))
            if value is not None
        ]
        if len(given) != 1:
            raise BadRequest("give exactly one of key, pattern, tag")
        with cache_required("invalidate"):
            if key is not None:
                return {"deleted": self.invalidator.delete(self._own(key, "key"), strict=True)}
            if pattern is not None:
                return {"deleted": self.invalidator.delete_matching(self._own(pattern, "pattern"))}
            assert tag is not None
            return self._invalidate_tag(tag)

    def _own(self, name: str, field: str) -> str:
        """Operators may only touch this app's cached data: ``<prefix>:<class>:...`` with a
        literal data class. Sessions, rate-limit counters and login counters are state,
        not cache: deleting them would log users out or reset a limited caller."""
        prefix = f"{self.keys.prefix}:"
        resource = name[len(prefix):].split(":", 1)[0] if isinstance(name, str) else ""
        if not name.startswith(prefix) or resource not in INVALIDATABLE:
            raise BadRequest(
                f"{field}: must name a cached data class ({', '.join(INVALIDATABLE)}), "
                f"as in 'product:42' or 'product:*'",
                field,
            )
        return name

    def _invalidate_tag(self, tag: str) -> dict[str, Any]:
        resource, _, ident = tag.partition(":") if isinstance(tag, str) else ("", "", "")
        if resource not in INVALIDATABLE:
            raise BadRequest(
                f"tag: the resource must be a cached data class ({', '.join(INVALIDATABLE)})",
                "tag",
            )
        try:
            entity_key = self.keys.key(resource, ident)
        except InvalidKeyError:
            raise BadRequest(
                f"tag: expected '<resource>:<id>' such as 'user:42', got {tag!r}", "tag"
            ) from None
        version = self.groups.invalidate(resource, ident)
        entries = self.entries.get(resource)
        existed = self.invalidator.delete(entity_key, strict=True)
        if entries is not None:  # also fence off in-flight fills of the entity
            entries.invalidate(ident)
        return {"deleted": existed, "tag": tag, "version": version}

    # statistics ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Per data class hits/misses/hit_ratio/loads/errors (this process), the server's
        INFO figures (all primaries), and the configured ``maxmemory-policy``."""
        return {
            "classes": self.metrics.snapshot(),
            "server": self._server(),
            "maxmemory_policy": self.maxmemory_policy,
            "breaker": self.breaker.snapshot(),
        }

    def _server(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict.fromkeys((*SERVER_COUNTERS, "used_memory"), 0)
        policies: set[str] = set()
        try:
            nodes = primaries(self.client)
            for node in nodes:
                info: Any = node.info("stats")
                memory: Any = node.info("memory")
                for name in SERVER_COUNTERS:
                    figures[name] += int(info.get(name, 0))
                figures["used_memory"] += int(memory.get("used_memory", 0))
                policies.add(str(memory.get("maxmemory_policy", "")))
        except VALKEY_ERRORS as exc:
            log.warning("cache stats: server unavailable: %s", exc)
            return {"available": False}
        figures["available"] = True
        figures["nodes"] = len(nodes)
        figures["server_maxmemory_policy"] = ",".join(sorted(policies))
        return figures
