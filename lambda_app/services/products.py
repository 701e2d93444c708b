"""Products (scenario 1): cache-aside reads, a cached top-N query, writes that refresh.

* ``get``: cache-aside through the read side (stampede lock, negative caching of unknown
  ids, Valkey outage -> database);
* ``top``: the top-N query cached as one entry per (ranking, N), under the version of
  the ``top_products`` group, so any product write makes every cached ranking
  unreachable with a single ``INCR`` (how many N were cached does not matter);
* writes commit first, then refresh the product's entry through the write-through
  lease protocol (the next GET is a hit with the new row, and no concurrent fill or warm
  can put the old row back) and bump the ranking group.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.invalidation import GroupVersions
from lambda_app.caching.lookup import Lookup
from lambda_app.caching.write_through import WriteThrough
from lambda_app.clients.valkey import VALKEY_ERRORS
from lambda_app.data.base import Row
from lambda_app.data.repositories import ProductRepository
from lambda_app.data.schema import MAX_TOP, PRODUCT_RANKINGS, PRODUCT_WRITABLE
from lambda_app.services.errors import NotFound, domain_errors
from lambda_app.services.validation import bounded, choice, entity_id, fields

log = logging.getLogger(__name__)

#: The group whose version every cached ranking carries.
TOP_GROUP = ("query", "top_products")


class ProductService:
    def __init__(
        self,
        repo: ProductRepository,
        cache: CacheAside,
        entries: WriteThrough,
        groups: GroupVersions,
    ) -> None:
        self.repo = repo
        self.cache = cache
        self.entries = entries
        self.groups = groups

    def key(self, product_id: int) -> str:
        """Where the product is cached."""
        return self.entries.key(entity_id(product_id))

    def get(self, product_id: int) -> Lookup:
        """The product (``lookup.value``, None if unknown) and whether the cache answered."""
        key = self.key(product_id)
        with domain_errors():
            return self.cache.get("product", key, lambda: self.repo.get(product_id))

    def top(self, n: int = 10, by: str = "views") -> Lookup:
        """The ``n`` most viewed (or sold) products, most first; a list in ``lookup.value``."""
        n = bounded(n, "n", 1, MAX_TOP)
        by = choice(by, "by", PRODUCT_RANKINGS)

        def load() -> list[Row]:
            return self.repo.top(n, by)  # type: ignore[arg-type]

        with domain_errors():
            try:
                key = self.groups.key(*TOP_GROUP, f"{by}.{n}")
            except VALKEY_ERRORS as exc:
                log.warning("top products: cache unavailable (%s); reading the database", exc)
                return Lookup(value=load(), hit=False, found=True, source="bypass")
            return self.cache.get("query", key, load)

    def create(self, values: Mapping[str, Any]) -> Row:
        """Insert; the new row is cached at once. ``values``: name, price[, description,
        views, sales]."""
        checked = fields(values, PRODUCT_WRITABLE, "product", required=("name", "price"))
        with domain_errors():
            row = self.repo.create(**checked)
        self._written(row["id"], row)
        return row

    def update(self, product_id: int, changes: Mapping[str, Any]) -> Row:
        """Change the given fields; the cached entry is refreshed with the stored row."""
        product_id = entity_id(product_id)
        checked = fields(changes, PRODUCT_WRITABLE, "product changes")
        with domain_errors():
            row = self.repo.update(product_id, **checked)
        if row is None:
            raise NotFound("product", product_id)
        self._written(product_id, row)
        return row

    def delete(self, product_id: int) -> None:
        """Delete the row, then its cached entry (the next GET caches "not found")."""
        product_id = entity_id(product_id)
        with domain_errors():
            existed = self.repo.delete(product_id)
        if not existed:
            raise NotFound("product", product_id)
        with domain_errors():
            self.entries.invalidate(product_id)
        self._rankings_changed()

    def _written(self, product_id: int, row: Row) -> None:
        with domain_errors():  # the read-back inside store() is a database call
            self.entries.store(product_id, row)
        self._rankings_changed()

    def _rankings_changed(self) -> None:
        """One INCR hides every cached ranking; on failure they expire by TTL (5 min)."""
        try:
            self.groups.invalidate(*TOP_GROUP)
        except VALKEY_ERRORS as exc:
            log.warning("top products: group invalidation failed (%s); TTL bounds staleness", exc)
