"""A price that expires inside a product that does not: hash field TTL (Valkey 9), and
companion keys where the server has no field TTL (Valkey 8)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from lambda_app.caching.field_ttl import FieldTtlCache, server_version, supports_field_ttl
from lambda_app.caching.keys import KeyBuilder

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("app")
PRICE_MS = 150
PRODUCT = {"id": 7, "name": "Widget", "price": Decimal("9.99"), "views": 3}


@pytest.fixture(params=["native", "companions"])
def prices(request: pytest.FixtureRequest, any_valkey: Any) -> FieldTtlCache:
    native = request.param == "native"
    if native and not supports_field_ttl(any_valkey):
        pytest.skip(f"Valkey {server_version(any_valkey)} has no hash field TTL")
    return FieldTtlCache(
        any_valkey, volatile={"price": PRICE_MS}, ttl_ms=60_000, keys=KEYS, native=native
    )


def test_detects_field_ttl_from_the_server_version(any_valkey):
    major, _ = server_version(any_valkey)
    assert supports_field_ttl(any_valkey) is (major >= 9)
    assert FieldTtlCache(any_valkey, volatile={"price": 1}, ttl_ms=1).native is (major >= 9)


def test_the_object_reads_back_exactly(prices):
    key = KEYS.key("product", 7)
    prices.write(key, PRODUCT)
    assert prices.read(key) == PRODUCT
    assert isinstance(prices.read(key)["price"], Decimal)


def test_an_expired_price_reloads_alone(prices):
    key = KEYS.key("product", 7)
    loads: list[str] = []

    def load() -> dict[str, Any]:
        loads.append("product")
        return dict(PRODUCT)

    def load_fields(names):
        loads.append(",".join(names))
        return {"price": Decimal("10.49")}

    assert prices.get(key, load, load_fields).source == "loader"
    assert prices.get(key, load, load_fields).source == "cache"
    time.sleep(PRICE_MS * 2 / 1000)
    stale = prices.read(key)
    assert stale is not None and "price" not in stale and stale["name"] == "Widget"
    again = prices.get(key, load, load_fields)
    assert again.source == "partial" and again.reloaded == {"price"}
    assert again.value == {**PRODUCT, "price": Decimal("10.49")}
    assert loads == ["product", "price"]
    assert prices.get(key, load, load_fields).source == "cache"


def test_the_object_keeps_its_own_ttl(prices, any_valkey):
    key = KEYS.key("product", 8)
    prices.write(key, PRODUCT)
    assert 50_000 < any_valkey.pttl(key) <= 60_000


def test_a_refresh_never_recreates_an_invalidated_object(prices, any_valkey):
    key = KEYS.key("product", 9)
    prices.write(key, PRODUCT)
    any_valkey.delete(key)
    assert prices.refresh(key, {"price": Decimal("1.00")}) is False
    assert prices.read(key) is None
    assert any_valkey.exists(key) == 0
