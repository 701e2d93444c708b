"""Products through the handler: cache-aside MISS then HIT, negative caching, the cached
top-N query, and writes that refresh the cached entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import valkey as valkey_py

from lambda_app.caching.prefetch import MISSING, take
from lambda_app.services import get_services
from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


def test_a_product_is_a_miss_then_a_hit_with_the_same_body(api, caller) -> None:
    first = call("GET", "/products/7", api_key=caller)
    second = call("GET", "/products/7", api_key=caller)
    assert (first.status, first.header("X-Cache")) == (200, "MISS")
    assert (second.status, second.header("X-Cache")) == (200, "HIT")
    assert first.body == second.body
    assert first.body["id"] == 7
    assert set(first.body) >= {"id", "name", "price", "description", "views", "sales"}
    assert isinstance(first.body["price"], float)


def test_an_unknown_product_is_404_and_the_second_lookup_is_a_cache_hit(api, caller) -> None:
    first = call("GET", "/products/2000000000", api_key=caller)
    second = call("GET", "/products/2000000000", api_key=caller)
    assert (first.status, first.header("X-Cache")) == (404, "MISS")
    assert (second.status, second.header("X-Cache")) == (404, "HIT")
    assert second.body == {"error": "not_found", "message": "product 2000000000 not found"}


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "2147483648", "1e3", "%20"])
def test_an_id_that_is_not_a_positive_integer_is_400_naming_it(api, caller, bad) -> None:
    answer = call("GET", f"/products/{bad}", api_key=caller)
    assert answer.status == 400
    assert answer.body["error"] == "validation_error"
    assert answer.body["message"].startswith("id: ")


def test_top_products_are_ranked_by_views_and_cached(api, caller) -> None:
    first = call("GET", "/products?top=5", api_key=caller)
    second = call("GET", "/products?top=5", api_key=caller)
    assert (first.status, first.header("X-Cache")) == (200, "MISS")
    assert second.header("X-Cache") == "HIT"
    views = [item["views"] for item in first.body["items"]]
    assert len(views) == first.body["count"] == 5
    assert views == sorted(views, reverse=True)
    assert call("GET", "/products", api_key=caller).body["count"] == 10  # the default


@pytest.mark.parametrize("top", ["0", "101", "x", "-5"])
def test_top_out_of_range_is_400(api, caller, top) -> None:
    answer = call("GET", f"/products?top={top}", api_key=caller)
    assert answer.status == 400
    assert answer.body["message"].startswith("top: ")


def test_create_update_delete_keep_the_cache_consistent(api, caller) -> None:
    created = call("POST", "/products", {"name": "Lamp", "price": 12.5}, api_key=caller)
    assert created.status == 201
    pid = created.body["id"]
    assert created.header("Location") == f"/products/{pid}"
    assert created.body["description"] == ""

    read = call("GET", f"/products/{pid}", api_key=caller)
    assert (read.header("X-Cache"), read.body["name"]) == ("HIT", "Lamp")  # cached at create

    updated = call("PATCH", f"/products/{pid}", {"price": "13.75"}, api_key=caller)
    assert (updated.status, updated.body["price"], updated.body["name"]) == (200, 13.75, "Lamp")
    after = call("GET", f"/products/{pid}", api_key=caller)
    assert after.status == 200
    assert Decimal(str(after.body["price"])) == Decimal("13.75")

    deleted = call("DELETE", f"/products/{pid}", api_key=caller)
    assert (deleted.status, deleted.raw) == (204, b"")
    assert call("GET", f"/products/{pid}", api_key=caller).status == 404
    assert call("DELETE", f"/products/{pid}", api_key=caller).status == 404
    assert call("PATCH", f"/products/{pid}", {"name": "x"}, api_key=caller).status == 404
    assert call("PUT", f"/products/{pid}", {"name": "x", "price": 1},
                api_key=caller).status == 404


def test_a_write_makes_cached_rankings_stale(api, caller) -> None:
    before = call("GET", "/products?top=1", api_key=caller).body["items"][0]
    created = call("POST", "/products", {"name": "Viral", "price": 1}, api_key=caller)
    pid = created.body["id"]
    try:
        # views are not writable through the API; a new product still bumps the rankings
        again = call("GET", "/products?top=1", api_key=caller)
        assert again.header("X-Cache") == "MISS"
        assert again.body["items"][0]["id"] == before["id"]
    finally:
        call("DELETE", f"/products/{pid}", api_key=caller)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": 1}, "name"),
        ({"name": "x"}, "price"),
        ({"name": "", "price": 1}, "name"),
        ({"name": "x", "price": -1}, "price"),
        ({"name": "x", "price": 1.234}, "price"),
        ({"name": "x", "price": 10**9}, "price"),
        ({"name": "x", "price": "NaN"}, "price"),
        ({"name": "x" * 201, "price": 1}, "name"),
        ({"name": "x", "price": 1, "views": 5}, "views"),
        ({"name": "\ud800", "price": 1}, "name"),
    ],
)
def test_invalid_products_are_400_naming_the_field(api, caller, body, field) -> None:
    answer = call("POST", "/products", body, api_key=caller)
    assert answer.status == 400
    assert answer.body["error"] == "validation_error"
    assert answer.body["message"].startswith(f"{field}: ")


def test_an_empty_patch_is_400(api, caller) -> None:
    answer = call("PATCH", "/products/1", {}, api_key=caller)
    assert answer.status == 400
    assert "at least one of name, price, description" in answer.body["message"]


def test_put_takes_back_what_get_returned_and_ignores_read_only_fields(api, caller) -> None:
    """A client can write back the representation it read: id, views, sales and
    updated_at are accepted and ignored; what PUT omits is reset (a replacement)."""
    read = call("GET", "/products/3", api_key=caller).body
    assert read["updated_at"].endswith("Z")  # RFC 3339, UTC
    edited = {**read, "name": "Renamed", "views": 0, "sales": 10**6, "id": 999}
    written = call("PUT", "/products/3", edited, api_key=caller)
    assert written.status == 200, written.body
    assert (written.body["id"], written.body["name"]) == (3, "Renamed")
    assert (written.body["views"], written.body["sales"]) == (read["views"], read["sales"])
    without = call("PUT", "/products/3", {"name": "Plain", "price": 2}, api_key=caller).body
    assert (without["description"], without["price"]) == ("", 2.0)
    assert call("PUT", "/products/3", {"name": "No price"}, api_key=caller).status == 400


def test_patch_changes_only_the_fields_sent(api, caller) -> None:
    before = call("GET", "/products/5", api_key=caller).body
    after = call("PATCH", "/products/5", {"description": "new words"}, api_key=caller).body
    assert after["description"] == "new words"
    assert {k: after[k] for k in ("name", "price", "views")} == {
        k: before[k] for k in ("name", "price", "views")}
    refused = call("PATCH", "/products/5", {"name": None}, api_key=caller)
    assert (refused.status, refused.body["message"]) == (400, "name: must not be null")


class _Counting(valkey_py.Connection):
    """A real connection that counts the writes it sends (one per round trip)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


def test_a_cached_read_is_one_round_trip_with_its_rate_limit_check(api, caller) -> None:
    """The read's GET rides in the rate limiter's pipeline; a cache hit then sends
    nothing more, and a stale parked reply is never reused by a later request."""
    assert call("GET", "/products/7", api_key=caller).header("X-Cache") == "MISS"
    pool = get_services().client.connection_pool
    pool.disconnect()
    pool.connection_class = _Counting
    pool.reset()  # drop the pooled connections: the next ones count
    get_services().client.ping()  # connect (CLIENT SETINFO) before counting
    before = _Counting.sent
    hit = call("GET", "/products/7", api_key=caller)
    assert (hit.status, hit.header("X-Cache")) == (200, "HIT")
    assert _Counting.sent - before == 1
    assert take(get_services().products.key(7)) is MISSING  # used, and cleared
    call("DELETE", "/products/7", api_key=caller)
    again = call("GET", "/products/7", api_key=caller)
    assert again.status == 404  # the delete's invalidation is seen: nothing stale parked
