"""Cache-aside fills under the write side's leases: the stale-set-after-delete race.

A reader misses and loads the product row; before it stores that row, a writer commits
a change and invalidates the key. Without a lease the reader's fill lands after the
invalidation and the old row stays cached for the whole TTL (an hour for products).
Each test pauses the reader's loader until the writer has committed and invalidated
(:func:`races.race`), so the interleaving is the bad one every time, then checks that
the cache ends equal to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import Leases
from lambda_app.caching.near_cache import NearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy
from lambda_app.caching.storage import StringStorage
from lambda_app.caching.write_through import WriteThrough
from lambda_app.data.repositories import ProductRepository
from tests.integration.caching.races import race

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("app")
STRATEGIES = ["none", "lock", "xfetch"]


def cached(client: Any, key: str) -> Any:
    """What Valkey holds for ``key``: the value; None for a not-found marker or a miss."""
    raw = client.get(key)
    return None if raw is None else StringStorage(client).parse(raw).value


def refuse() -> Any:
    raise AssertionError("the loader must not run: the current row is cached")


def leased(stampede: Any) -> dict[str, ClassPolicy]:
    return {**DEFAULT_POLICIES, "product": ClassPolicy(stampede, lease=True)}


@pytest.fixture
def products(db: Any) -> ProductRepository:
    return ProductRepository(lambda: db)


@pytest.fixture
def product_id(products: ProductRepository) -> int:
    return int(products.create(name="old", price=Decimal("1.00"))["id"])


@pytest.fixture
def writer(any_valkey: Any, products: ProductRepository) -> WriteThrough:
    """The write side of products, as the service layer wires it."""
    return WriteThrough(any_valkey, resource="product", data_class="product",
                        load=products.get, keys=KEYS)


@pytest.fixture(params=STRATEGIES)
def leased_cache(any_valkey: Any, request: pytest.FixtureRequest) -> CacheAside:
    """A reader whose product class is leased, once per stampede strategy."""
    return CacheAside(any_valkey, keys=KEYS, policies=leased(request.param))


def reading(cache: CacheAside, key: str) -> Callable[[Callable[[], Any]], Any]:
    return lambda load: cache.get("product", key, load)


def test_a_fill_that_read_before_an_update_cannot_cache_the_old_row(
    any_valkey, leased_cache, writer, products, product_id
):
    key = writer.key(product_id)

    def update() -> None:
        writer.store(product_id, products.update(product_id, name="new"))

    lookup = race(reading(leased_cache, key), lambda: products.get(product_id), update)

    assert lookup.value["name"] == "old"  # the reader answers with what it read...
    assert cached(any_valkey, key) == products.get(product_id)  # ...but did not cache it
    assert leased_cache.get("product", key, refuse).value["name"] == "new"
    assert leased_cache.stats()["classes"]["product"]["fenced"] == 1


def test_a_fill_that_read_before_a_delete_cannot_resurrect_the_row(
    any_valkey, leased_cache, writer, products, product_id
):
    key = writer.key(product_id)

    def delete() -> None:
        products.delete(product_id)
        writer.invalidate(product_id)

    lookup = race(reading(leased_cache, key), lambda: products.get(product_id), delete)

    assert lookup.found  # what the reader read...
    assert any_valkey.get(key) is None  # ...is not cached: a miss
    assert leased_cache.get("product", key, lambda: products.get(product_id)).found is False


def test_the_read_sides_own_delete_fences_fills_too(any_valkey, products, product_id):
    """``CacheAside.delete`` after a commit: the keys' leases go first."""
    cache = CacheAside(any_valkey, keys=KEYS)
    key = KEYS.key("product", product_id)

    def update() -> None:
        products.update(product_id, name="new")
        assert cache.delete([key]) == 0

    race(reading(cache, key), lambda: products.get(product_id), update)

    assert any_valkey.get(key) is None
    assert cache.get("product", key, lambda: products.get(product_id)).value["name"] == "new"


def test_the_read_sides_set_fences_fills_too(any_valkey, products, product_id):
    """``CacheAside.set`` (write-through of a leased class) replaces the lease first."""
    cache = CacheAside(any_valkey, keys=KEYS)
    key = KEYS.key("product", product_id)

    def update() -> None:
        assert cache.set("product", key, products.update(product_id, name="new"))

    race(reading(cache, key), lambda: products.get(product_id), update)

    assert cached(any_valkey, key) == products.get(product_id)


def test_an_early_recompute_that_read_before_an_update_cannot_overwrite_it(
    any_valkey, writer, products, product_id
):
    """XFetch recomputes a value that is still there: it takes the lease all the same."""
    cache = CacheAside(any_valkey, keys=KEYS, policies=leased("xfetch"))
    key = writer.key(product_id)
    cache.get("product", key, lambda: products.get(product_id))
    eager = CacheAside(any_valkey, keys=KEYS, policies=leased("xfetch"), xfetch_beta=1e9)

    def update() -> None:
        writer.store(product_id, products.update(product_id, name="new"))

    lookup = race(reading(eager, key), lambda: products.get(product_id), update)

    assert lookup.source == "loader" and lookup.value["name"] == "old"
    assert eager.stats()["classes"]["product"]["early_recomputes"] == 1
    assert cached(any_valkey, key) == products.get(product_id)


def test_the_hit_path_takes_no_lease_and_a_fill_consumes_its_lease(
    any_valkey, products, product_id
):
    cache = CacheAside(any_valkey, keys=KEYS)
    key = KEYS.key("product", product_id)
    lease_key = Leases(any_valkey, KEYS).lease_key(key)
    assert cache.get("product", key, lambda: products.get(product_id)).source == "loader"
    assert any_valkey.exists(lease_key) == 0  # the fill consumed it
    assert cache.get("product", key, refuse).hit
    assert any_valkey.exists(lease_key) == 0


def test_a_leased_class_can_be_near_cached(any_valkey):
    policies = {**DEFAULT_POLICIES, "product": ClassPolicy("lock", near=True, lease=True)}
    cache = CacheAside(any_valkey, keys=KEYS, near=NearCache(max_size=10), policies=policies)
    key = KEYS.key("product", 1)
    assert cache.get("product", key, lambda: {"id": 1}).source == "loader"
    assert cache.get("product", key, refuse) == ({"id": 1}, True, True, "near")


def test_unleased_classes_are_untouched(any_valkey):
    """Query results are versioned by their group, not leased: plain SET, no lease key."""
    cache = CacheAside(any_valkey, keys=KEYS)
    key = KEYS.query("top_products", {"limit": 3})
    cache.get("query", key, lambda: [1, 2, 3])
    assert any_valkey.exists(Leases(any_valkey, KEYS).lease_key(key)) == 0
    assert cache.policy("query").lease is False
    assert all(cache.policy(name).lease for name in ("product", "user", "session"))


def test_leases_need_the_string_shape():
    with pytest.raises(ValueError, match="lease=True needs shape='string'"):
        ClassPolicy("lock", shape="hash", lease=True)
