"""CacheAdminService against real servers: warming, invalidation, statistics."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lambda_app.caching.invalidation import scan_primaries
from lambda_app.services.errors import BadRequest, Unavailable

pytestmark = pytest.mark.integration


def products(services, n):
    return [
        services.products.create({"name": f"P{i}", "price": Decimal(5), "views": i})["id"]
        for i in range(n)
    ]


def keys_under(services, pattern):
    return sorted(key for batch in scan_primaries(services.client, pattern, 100) for key in batch)


def test_warm_top_n_then_reads_hit(any_services):
    ids = products(any_services, 12)
    any_services.client.unlink(*(any_services.keys.key("product", i) for i in ids))

    result = any_services.cache_admin.warm(products_top=5)

    assert result["warmed"] == 5 and result["seconds"] > 0
    top5 = sorted(ids, reverse=True)[:5]  # views = i: the newest have the most
    assert all(any_services.products.get(i).hit for i in top5)
    assert not any_services.products.get(ids[0]).hit


def test_warm_skip_fresh_skips_what_is_cached(services):
    products(services, 4)  # write-through: all four are cached already
    result = services.cache_admin.warm(products_top=4, skip_fresh=True)
    assert (result["warmed"], result["skipped"]) == (0, 4)


def test_warm_one_user_on_demand(services):
    user = services.users.create({"name": "Ada", "email": "ada@example.com"})
    services.client.delete(services.keys.key("user", user["id"]))
    assert services.cache_admin.warm_user(user["id"])["warmed"] == 1
    assert services.users.get(user["id"]).hit


def test_invalidate_a_key(any_services):
    (pid,) = products(any_services, 1)
    key = any_services.keys.key("product", pid)
    assert any_services.cache_admin.invalidate(key=key) == {"deleted": 1}
    assert not any_services.products.get(pid).hit


def test_invalidate_a_pattern_on_every_primary(any_services):
    products(any_services, 30)
    assert len(keys_under(any_services, "app:product:*")) == 30

    assert any_services.cache_admin.invalidate(pattern="app:product:*") == {"deleted": 30}
    assert keys_under(any_services, "app:product:*") == []


def test_invalidate_a_tag_hides_the_whole_group(any_services):
    user = any_services.users.create({"name": "Ada", "email": "ada@example.com"})
    orders_key = any_services.groups.key("user", user["id"], "orders")
    any_services.client.set(orders_key, b"[]", px=60_000)

    result = any_services.cache_admin.invalidate(tag=f"user:{user['id']}")

    assert result["deleted"] == 1 and result["tag"] == f"user:{user['id']}"
    assert any_services.groups.key("user", user["id"], "orders") != orders_key
    assert not any_services.users.get(user["id"]).hit


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"key": "app:product:1", "pattern": "app:*"},
        {"key": "other:product:1"},
        {"key": "app:"},
        {"pattern": "*"},
        {"pattern": "app"},
        {"tag": "user"},
        {"tag": "user:4 2"},
        {"tag": "a:b:c"},
    ],
)
def test_bad_invalidations_are_refused(services, arguments):
    with pytest.raises(BadRequest):
        services.cache_admin.invalidate(**arguments)


@pytest.mark.parametrize(("top", "by"), [(0, "views"), (10_001, "views"), (5, "price")])
def test_bad_warm_arguments_are_refused(services, top, by):
    with pytest.raises(BadRequest):
        services.cache_admin.warm(top, by)


def test_stats_report_classes_server_figures_and_policy(any_services):
    (pid,) = products(any_services, 1)
    any_services.cache.delete([any_services.keys.key("product", pid)])
    any_services.products.get(pid)  # miss
    any_services.products.get(pid)  # hit

    stats = any_services.cache_admin.stats()

    product = stats["classes"]["product"]
    assert (product["hits"], product["misses"], product["loads"]) == (1, 1, 1)
    assert product["hit_ratio"] == 0.5
    server = stats["server"]
    assert server["available"] is True
    assert server["keyspace_hits"] >= 1 and server["used_memory"] > 0
    assert {"evicted_keys", "expired_keys", "keyspace_misses"} <= server.keys()
    assert stats["maxmemory_policy"] == "allkeys-lfu"
    assert server["server_maxmemory_policy"] == "allkeys-lfu"


def test_operator_actions_report_a_cache_outage(cache_down_services):
    with pytest.raises(Unavailable) as caught:
        cache_down_services.cache_admin.invalidate(pattern="app:product:*")
    assert caught.value.dependency == "cache"
    cache_down_services.products.create({"name": "P", "price": Decimal(1)})
    with pytest.raises(Unavailable):
        cache_down_services.cache_admin.warm(5)
    assert cache_down_services.cache_admin.stats()["server"] == {"available": False}


def test_requests_degrade_to_the_database_when_the_cache_is_down(cache_down_services):
    """Reads and writes keep working (source "bypass"); only operator actions refuse."""
    user = cache_down_services.users.create({"name": "Ada", "email": "ada@example.com"})
    lookup = cache_down_services.users.get(user["id"])
    assert (lookup.value, lookup.hit, lookup.source) == (user, False, "bypass")
    product = cache_down_services.products.create({"name": "P", "price": Decimal(1)})
    assert cache_down_services.products.get(product["id"]).value == product
    assert cache_down_services.products.top(3).value == [product]
    token = cache_down_services.sessions.create(user["id"])["token"]
    assert cache_down_services.sessions.validate(token)["user_id"] == user["id"]
