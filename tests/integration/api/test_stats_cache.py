"""The dashboard aggregate, warming, invalidation and statistics through the handler."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


def test_the_dashboard_is_a_cached_aggregate(api, caller) -> None:
    first = call("GET", "/stats/dashboard", api_key=caller)
    second = call("GET", "/stats/dashboard", api_key=caller)
    assert (first.status, first.header("X-Cache")) == (200, "MISS")
    assert second.header("X-Cache") == "HIT"
    assert first.body == second.body
    assert {"total_users", "total_sales", "avg_order"} <= set(first.body)


def test_warming_then_reads_are_hits(api, caller) -> None:
    warmed = call("POST", "/cache/warm", {"products_top": 20}, api_key=caller)
    assert warmed.status == 200
    assert warmed.body["warmed"] == 20
    assert isinstance(warmed.body["seconds"], float)
    top = call("GET", "/products?top=3", api_key=caller).body["items"]
    for item in top:
        assert call("GET", f"/products/{item['id']}", api_key=caller).header("X-Cache") == "HIT"


def test_invalidate_by_key_then_the_next_read_is_a_miss(api, caller) -> None:
    call("GET", "/products/3", api_key=caller)
    assert call("GET", "/products/3", api_key=caller).header("X-Cache") == "HIT"
    deleted = call("POST", "/cache/invalidate", {"key": "product:3"}, api_key=caller)
    assert deleted.body["deleted"] == 1
    assert call("GET", "/products/3", api_key=caller).header("X-Cache") == "MISS"
    # names are relative to the app: the Valkey key name (with the prefix) is not one
    full = call("POST", "/cache/invalidate", {"key": "apitest:product:3"}, api_key=caller)
    assert (full.status, full.body["error"]) == (400, "validation_error")


def test_invalidate_by_pattern_and_by_tag(api, caller) -> None:
    for pid in (1, 2, 3):
        call("GET", f"/products/{pid}", api_key=caller)
    by_pattern = call("POST", "/cache/invalidate", {"pattern": "product:*"}, api_key=caller)
    assert by_pattern.status == 200
    assert by_pattern.body["deleted"] >= 3
    call("GET", "/users/1", api_key=caller)
    by_tag = call("POST", "/cache/invalidate", {"tag": "user:1"}, api_key=caller)
    assert by_tag.status == 200
    assert by_tag.body["deleted"] == 1
    assert call("GET", "/users/1", api_key=caller).header("X-Cache") == "MISS"
    absent = call("POST", "/cache/invalidate", {"key": "product:999999"}, api_key=caller)
    assert (absent.status, absent.body["deleted"]) == (200, 0)


@pytest.mark.parametrize("body", [
    {"pattern": "*"}, {"pattern": "*:*"}, {"pattern": "rl:*"}, {"pattern": "session:*"},
    {"key": "nothing:here"}, {"tag": "session:abc"}, {"pattern": "login:*"},
])
def test_invalidation_reaches_cached_data_only(api, caller, body) -> None:
    """Sessions, rate-limit and login counters are state, not cache: no selector reaches
    them, so an operator's wildcard cannot log users out or reset a limited caller."""
    answer = call("POST", "/cache/invalidate", body, api_key=caller)
    assert answer.status == 400, answer.body
    assert "cached data class" in answer.body["message"], answer.body


@pytest.mark.parametrize(
    "body",
    [{}, {"key": "a", "tag": "b"}, {"key": ""}, {"pattern": None}, {"key": 5}, {"keys": "x"}],
)
def test_invalidate_needs_exactly_one_selector(api, caller, body) -> None:
    answer = call("POST", "/cache/invalidate", body, api_key=caller)
    assert answer.status == 400
    assert answer.body["error"] == "validation_error"


@pytest.mark.parametrize("top", [0, 1001, "5", None])
def test_warm_rejects_bad_counts(api, caller, top) -> None:
    answer = call("POST", "/cache/warm", {"products_top": top}, api_key=caller)
    assert answer.status == 400
    assert answer.body["message"].startswith("products_top: ")


def test_cache_stats_report_classes_server_and_policy(api, caller) -> None:
    call("GET", "/products/5", api_key=caller)
    call("GET", "/products/5", api_key=caller)
    stats = call("GET", "/cache/stats", api_key=caller)
    assert stats.status == 200
    product = stats.body["classes"]["product"]
    assert {"hits", "misses", "hit_ratio", "loads", "errors"} <= set(product)
    assert product["hits"] >= 1 and product["misses"] >= 1
    server = stats.body["server"]
    for name in ("evicted_keys", "expired_keys", "keyspace_hits", "keyspace_misses",
                 "used_memory"):
        assert isinstance(server[name], int)
    assert stats.body["maxmemory_policy"] == "allkeys-lfu"
