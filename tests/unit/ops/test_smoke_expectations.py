"""The smoke test's expectations, on recorded responses (the API itself is in tests/e2e)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.ops import smoke, smoke_groups
from scripts.ops import smoke_expect as expect
from scripts.ops.http import Response, error_shape

pytestmark = pytest.mark.unit


def response(status: int, body: Any = None, path: str = "/x", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
    names = {k.replace("_", "-"): v for k, v in headers.items()}
    return Response("GET", path, status, names, raw, 0.001)


def test_problems_joins_only_what_went_wrong() -> None:
    assert expect.problems(None, None) is None
    assert expect.problems("a", None, "b") == "a; b"


def test_status_is() -> None:
    assert expect.status_is(response(201), 200, 201) is None
    assert expect.status_is(response(500, {"error": "x"}), 200) == (
        'expected 200: GET /x -> 500 {"error": "x"}'
    )


def test_cache_is() -> None:
    assert expect.cache_is(response(200, X_Cache="HIT"), "HIT") is None
    missed = expect.cache_is(response(200, X_Cache="MISS"), "HIT")
    assert missed == "GET /x: X-Cache MISS, expected HIT"
    assert expect.cache_is(response(200), "MISS") == "GET /x: X-Cache missing, expected MISS"


def test_error_shape_and_is_error() -> None:
    good = response(404, {"error": "not_found", "message": "product 9 not found"})
    assert error_shape(good) is None
    assert expect.is_error(good, 404) is None
    assert 'no "message"' in (error_shape(response(400, {"error": "bad"})) or "")
    assert 'no "error" code' in (error_shape(response(400, {"message": "m"})) or "")
    assert "not a JSON object" in (error_shape(response(413, b"<html>too big</html>")) or "")
    assert expect.is_error(good, 400) == (
        'expected 400: GET /x -> 404 {"error": "not_found", "message": "product 9 not found"}'
    )


def test_fields_match_compares_prices_as_amounts() -> None:
    body = {"id": 1, "name": "Mug", "price": 19.9}
    assert expect.fields_match(body, {"name": "Mug", "price": "19.90"}) is None
    assert expect.fields_match({**body, "price": "19.90"}, {"price": 19.9}) is None
    assert expect.fields_match(body, {"price": "20"}) == "price=19.9 (expected '20')"
    assert expect.fields_match(body, {"price": "abc"}) is not None
    assert expect.fields_match([body], {"name": "Mug"}) is not None


def test_limit_headers() -> None:
    full = response(200, RateLimit_Limit="100", RateLimit_Remaining="99", RateLimit_Reset="60")
    assert expect.limit_headers(full) is None
    partial = response(200, RateLimit_Limit="100", RateLimit_Remaining="x")
    assert expect.limit_headers(partial) == (
        "/x: missing or non-numeric RateLimit-Remaining, RateLimit-Reset"
    )


def test_retry_after() -> None:
    assert expect.retry_after(response(429, Retry_After="12")) is None
    assert expect.retry_after(response(429)) == "Retry-After missing (expected seconds)"


def test_items_and_ranking() -> None:
    items = [{"id": 3, "views": 90}, {"id": 1, "views": 90}, {"id": 2, "views": 5}]
    assert expect.items_of(items) == items
    assert expect.items_of({"products": items}) == items
    assert expect.items_of({"count": 3}) is None
    assert expect.ranked_by_views(items, 3) is None
    assert expect.ranked_by_views(items, 2) == "3 items for top=2"
    assert expect.ranked_by_views(list(reversed(items)), 3) == "not ordered by views: [5, 90, 90]"
    assert "without integer views" in (expect.ranked_by_views([{"id": 1}], 3) or "")


@pytest.mark.parametrize(
    ("seen", "ok"),
    [
        ({}, True),
        ({"expires_in": 1800}, True),
        ({"expires_in": 1797}, True),
        ({"ttl": 1799}, True),
        ({"expires_in": 900}, False),
        ({"expires_in": "1800"}, False),
    ],
)
def test_sliding_refresh(seen: dict[str, Any], ok: bool) -> None:
    assert (expect.sliding_refresh(1800, seen) is None) is ok


def test_find_key_searches_nested_bodies() -> None:
    stats = {
        "classes": {"product": {"hits": 3, "misses": 1, "hit_ratio": 0.75}},
        "server": {"maxmemory_policy": "allkeys-lfu"},
    }
    assert expect.find_key(stats, "hit_ratio")
    assert expect.find_key([stats], "maxmemory_policy")
    assert not expect.find_key(stats, "evictions")


def test_groups_cover_every_route_of_the_contract() -> None:
    import inspect

    source = inspect.getsource(smoke_groups)
    for route in (
        '"/health"',
        "/products/{pid}",
        "/products?top=",
        '"/products"',
        '"/users"',
        "/users/{uid}",
        '"/sessions"',
        '"/sessions/current"',
        '"/stats/dashboard"',
        '"/cache/warm"',
        '"/cache/invalidate"',
        '"/cache/stats"',
    ):
        assert route in source, route
    assert [name for name, _ in smoke.GROUPS] == [
        "health",
        "products",
        "top",
        "users",
        "sessions",
        "dashboard",
        "cache",
        "errors",
        "ratelimit",
    ]
