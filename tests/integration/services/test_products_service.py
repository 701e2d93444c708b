"""ProductService against real servers: cache-aside reads, cached top-N, refreshing writes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lambda_app.services.errors import BadRequest, NotFound, Unavailable
from tests.integration.caching.races import race

pytestmark = pytest.mark.integration


def new(services, name="Widget", price="9.99", **extra):
    return services.products.create({"name": name, "price": Decimal(price), **extra})


def test_create_then_get_is_a_hit_with_the_stored_row(any_services):
    row = new(any_services, description="blue")
    lookup = any_services.products.get(row["id"])
    assert (lookup.hit, lookup.value) == (True, row)
    assert isinstance(lookup.value["price"], Decimal)


def test_cold_get_misses_then_hits(services, db):
    from lambda_app.data.repositories import ProductRepository

    row = ProductRepository(lambda: db).create(name="Direct", price=Decimal("1.50"))
    first, second = services.products.get(row["id"]), services.products.get(row["id"])
    assert (first.hit, first.source, second.hit) == (False, "loader", True)
    assert first.value == second.value == row


def test_a_get_racing_an_update_never_leaves_the_old_row_cached(any_services, monkeypatch):
    """The GET misses and reads the row; the update commits and refreshes the entry
    before the GET's fill: the fill is fenced off, the new row stays cached."""
    products = any_services.products
    row = products.repo.create(name="old", price=Decimal("1.00"))  # not cached yet
    read_row = products.repo.get  # the write side's read-back keeps using this one

    def get(load):
        monkeypatch.setattr(products.repo, "get", lambda _id: load())
        return products.get(row["id"])

    lookup = race(get, lambda: read_row(row["id"]),
                  lambda: products.update(row["id"], {"name": "new"}))
    monkeypatch.undo()

    assert lookup.value["name"] == "old"
    after = products.get(row["id"])
    assert after.hit and after.value == read_row(row["id"])


def test_update_refreshes_the_cached_entry(any_services):
    row = new(any_services)
    any_services.products.get(row["id"])

    updated = any_services.products.update(row["id"], {"price": Decimal("12.00")})

    lookup = any_services.products.get(row["id"])
    assert lookup.hit and lookup.value == updated
    assert lookup.value["price"] == Decimal("12.00") and lookup.value["name"] == "Widget"


def test_unknown_product_is_none_and_negatively_cached(services):
    assert services.products.get(4242).value is None
    again = services.products.get(4242)
    assert (again.hit, again.found) == (True, False)


def test_create_after_a_cached_not_found_is_visible(services):
    assert services.products.get(1).found is False  # "not found" cached for id 1
    row = new(services)
    assert row["id"] == 1
    assert services.products.get(1).value == row


def test_delete_removes_the_entry(any_services):
    row = new(any_services)
    any_services.products.get(row["id"])
    any_services.products.delete(row["id"])

    assert any_services.products.get(row["id"]).value is None
    with pytest.raises(NotFound, match="product"):
        any_services.products.delete(row["id"])
    with pytest.raises(NotFound):
        any_services.products.update(row["id"], {"name": "x"})


def test_top_is_cached_and_any_write_invalidates_every_ranking(any_services):
    a = new(any_services, "A", views=10, sales=1)
    b = new(any_services, "B", views=20, sales=2)
    first = any_services.products.top(2)
    assert [p["name"] for p in first.value] == ["B", "A"] and not first.hit
    assert any_services.products.top(2).hit
    assert any_services.products.top(5, "sales").value[0]["id"] == b["id"]

    any_services.products.update(a["id"], {"views": 30})

    after = any_services.products.top(2)
    assert not after.hit and [p["name"] for p in after.value] == ["A", "B"]
    assert not any_services.products.top(5, "sales").hit


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.products.get(0), "id"),
        (lambda s: s.products.get("1"), "id"),
        (lambda s: s.products.top(0), "n"),
        (lambda s: s.products.top(5, "price"), "by"),
        (lambda s: s.products.create({"name": "x"}), "price"),
        (
            lambda s: s.products.create({"name": "x", "price": Decimal(1), "colour": "red"}),
            "colour",
        ),
        (lambda s: s.products.create({"name": "x", "price": 9.99}), "products.price"),
        (lambda s: s.products.create({"name": "", "price": Decimal(1)}), "products.name"),
        (lambda s: s.products.update(1, {"id": 5}), "id"),
    ],
)
def test_bad_input_is_a_bad_request_naming_the_field(services, call, field):
    with pytest.raises(BadRequest) as caught:
        call(services)
    assert caught.value.field == field


def test_database_down_on_a_write_is_unavailable_and_nothing_is_cached(
    services, db_down_services, valkey
):
    row = new(services)
    services.products.get(row["id"])
    before = {key: valkey.get(key) for key in valkey.scan_iter("app:*")}

    with pytest.raises(Unavailable) as caught:
        db_down_services.products.update(row["id"], {"name": "changed"})
    with pytest.raises(Unavailable):
        db_down_services.products.create({"name": "new", "price": Decimal(1)})
    with pytest.raises(Unavailable):
        db_down_services.products.delete(row["id"])

    assert caught.value.dependency == "database"
    assert {key: valkey.get(key) for key in valkey.scan_iter("app:*")} == before
    assert services.products.get(row["id"]).value == row  # still right: the DB is unchanged


def test_database_down_on_a_read_is_unavailable(db_down_services):
    with pytest.raises(Unavailable):
        db_down_services.products.get(1)
