"""Cache-aside against real servers (standalone and the 3-node cluster).

Covers the usual version's defects: empty values vs misses, negative caching, exact types from
PyMySQL, large values, both storage shapes, sliding TTLs, and "every key has a TTL".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy
from lambda_app.caching.serialization import Codec, ValueTooLargeError
from lambda_app.caching.storage import Entry, make_storage
from lambda_app.caching.ttl import TtlPolicy, UnknownDataClassError
from lambda_app.data.repositories import ProductRepository, StatsRepository, UserRepository

pytestmark = pytest.mark.integration

keys = KeyBuilder("app")



class Loader:
    """Counts real loads; returns a fixed value (or the result of a function)."""

    def __init__(self, value: Any = None, fn: Any = None) -> None:
        self.value = value
        self.fn = fn
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.fn() if self.fn else self.value


def with_policies(**changes: ClassPolicy) -> dict[str, ClassPolicy]:
    policies = dict(DEFAULT_POLICIES)
    policies.update(changes)
    return policies


@pytest.mark.parametrize("value", [0, "", [], {}, False, 0.0])
def test_empty_values_are_hits_not_misses(any_valkey, value):
    cache = CacheAside(any_valkey)
    load = Loader(value)
    key = keys.key("config", "flags")
    first = cache.get("config", key, load)
    second = cache.get("config", key, load)
    assert (first.hit, first.source) == (False, "loader")
    assert second == (value, True, True, "cache")
    assert type(second.value) is type(value)
    assert load.calls == 1


def test_not_found_is_cached_for_the_negative_ttl(any_valkey):
    cache = CacheAside(any_valkey, ttl=TtlPolicy(negative_ttl=60, jitter=0.1))
    load = Loader(None)
    key = keys.key("product", 999_999)
    assert cache.get("product", key, load) == (None, False, False, "loader")
    assert cache.get("product", key, load) == (None, True, False, "cache")
    assert load.calls == 1
    assert 0 < any_valkey.pttl(key) <= 66_000
    stats = cache.stats()["classes"]["product"]
    assert (stats["negative_hits"], stats["misses"], stats["loads"]) == (1, 1, 1)


def test_negative_caching_can_be_switched_off(any_valkey):
    cache = CacheAside(any_valkey, policies=with_policies(user=ClassPolicy(negative=False)))
    load = Loader(None)
    key = keys.key("user", 5)
    cache.get("user", key, load)
    cache.get("user", key, load)
    assert load.calls == 2
    assert any_valkey.exists(key) == 0


@pytest.mark.parametrize("shape", ["string", "hash"])
def test_mysql_rows_round_trip_exactly(any_valkey, db, shape):
    products = ProductRepository(lambda: db)
    row = products.create(name="Luxury Widget", price=Decimal("19.90"), description="d")
    cache = CacheAside(any_valkey, policies=with_policies(product=ClassPolicy("lock", shape=shape)))
    key = keys.key("product", row["id"])
    load = Loader(fn=lambda: products.get(row["id"]))
    miss = cache.get("product", key, load)
    hit = cache.get("product", key, load)
    assert hit.hit and not miss.hit
    assert hit.value == miss.value == row
    assert {k: type(v) for k, v in hit.value.items()} == {k: type(v) for k, v in row.items()}
    assert str(hit.value["price"]) == "19.90"
    if shape == "hash":
        assert any_valkey.hget(key, "name") == b"sLuxury Widget"  # one field readable alone
        assert any_valkey.hget(key, "price") == b"d19.90"


def test_dashboard_aggregate_and_top_n_round_trip(any_valkey, db):
    user = UserRepository(lambda: db).create(name="Ann", email="ann@example.com")
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO orders (user_id, amount, created_at) VALUES (%s, %s, NOW(6))",
            [(user["id"], Decimal("10.25")), (user["id"], Decimal("5.50"))],
        )
    db.commit()
    products = ProductRepository(lambda: db)
    for i in range(3):
        products.create(name=f"p{i}", price=Decimal("1.00"), views=i)
    cache = CacheAside(any_valkey)

    stats = StatsRepository(lambda: db)
    load = Loader(fn=stats.dashboard)
    key = keys.key("dashboard", "stats")
    fresh = cache.get("dashboard", key, load).value
    cached = cache.get("dashboard", key, load)
    assert cached.hit and cached.value == fresh
    assert cached.value["total_sales"] == Decimal("15.75")
    assert isinstance(cached.value["total_sales"], Decimal)

    top_key = keys.query("top_products", {"limit": 2})
    top = Loader(fn=lambda: products.top(2))
    assert cache.get("query", top_key, top).value == cache.get("query", top_key, top).value
    assert [p["name"] for p in cache.get("query", top_key, top).value] == ["p2", "p1"]
    assert top.calls == 1


def test_xfetch_classes_store_delta_and_expiry(any_valkey):
    cache = CacheAside(any_valkey)
    key = keys.key("price", 1)
    cache.get("price", key, Loader(Decimal("9.99")))
    raw = any_valkey.get(key)
    assert raw.startswith(b"@")
    delta, expires = raw[1 : raw.index(b";")].split(b",")
    assert int(delta) >= 1
    assert int(expires) > 0
    product_key = keys.key("product", 1)
    cache.get("product", product_key, Loader({"id": 1}))
    assert any_valkey.get(product_key) == b'{"id":1}'  # no header, plain JSON


@pytest.mark.parametrize("mode", ["compress", "skip"])
def test_large_values_compress_or_skip(any_valkey, mode):
    cache = CacheAside(any_valkey, codec=Codec(max_value_bytes=102_400, large_values=mode))
    big = [{"id": i, "description": "lorem ipsum dolor " * 40} for i in range(200)]  # ~150 KB
    key = keys.query("everything")
    load = Loader(big)
    assert cache.get("query", key, load).value == big
    second = cache.get("query", key, load)
    assert second.value == big
    if mode == "compress":
        raw = any_valkey.get(key)
        assert len(raw) <= 102_400
        assert b";Z" in raw  # xfetch header, then the compressed payload
        assert (second.hit, load.calls) == (True, 1)
    else:
        assert any_valkey.exists(key) == 0
        assert (second.hit, load.calls) == (False, 2)
        assert cache.stats()["classes"]["query"]["too_large"] == 2


def test_sliding_ttl_is_refreshed_by_a_hit(any_valkey):
    cache = CacheAside(any_valkey, ttl=TtlPolicy(jitter=0).replace(session=1800))
    key = keys.key("session", "abc")
    cache.get("session", key, Loader({"user_id": 1}))
    any_valkey.pexpire(key, 5_000)
    assert cache.get("session", key, Loader()).hit
    assert any_valkey.pttl(key) > 1_700_000
    product = keys.key("product", 1)
    cache.get("product", product, Loader({"id": 1}))
    any_valkey.pexpire(product, 5_000)
    cache.get("product", product, Loader())
    assert any_valkey.pttl(product) <= 5_000  # not sliding: a hit leaves the TTL alone


def test_sliding_keeps_the_negative_ttl_short(any_valkey):
    cache = CacheAside(any_valkey, ttl=TtlPolicy(jitter=0, negative_ttl=60))
    key = keys.key("session", "gone")
    cache.get("session", key, Loader(None))
    assert cache.get("session", key, Loader()).found is False
    assert 0 < any_valkey.pttl(key) <= 60_000


def test_sliding_hash_shape(any_valkey):
    policies = with_policies(session=ClassPolicy(shape="hash"))
    cache = CacheAside(any_valkey, policies=policies)
    key = keys.key("session", "h1")
    cache.get("session", key, Loader({"user_id": 1}))
    any_valkey.pexpire(key, 5_000)
    assert cache.get("session", key, Loader()).value == {"user_id": 1}
    assert any_valkey.pttl(key) > 1_000_000


@pytest.mark.parametrize("data_class", ["product", "dashboard", "session"])
def test_loader_errors_propagate_and_are_never_cached(any_valkey, data_class):
    cache = CacheAside(any_valkey)
    key = keys.key(data_class, 1)

    def broken() -> Any:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        cache.get(data_class, key, broken)
    assert any_valkey.exists(key) == 0
    assert any_valkey.exists(keys.companion(key, "lock")) == 0  # lock released
    assert cache.stats()["classes"][data_class]["load_errors"] == 1
    assert cache.get(data_class, key, Loader("ok")).value == "ok"


@pytest.mark.parametrize("shape", ["string", "hash"])
def test_set_and_delete(any_valkey, shape):
    cache = CacheAside(any_valkey, policies=with_policies(user=ClassPolicy("lock", shape=shape)))
    key = keys.key("user", 7)
    assert cache.set("user", key, {"id": 7, "name": "Bo", "age": None})
    user = {"id": 7, "name": "Bo", "age": None}
    assert cache.get("user", key, Loader()) == (user, True, True, "cache")
    assert cache.set("user", key, None)
    assert cache.get("user", key, Loader()) == (None, True, False, "cache")
    assert cache.set("user", key, [1, 2])  # not an object: stored whole
    assert cache.get("user", key, Loader()).value == [1, 2]
    assert cache.delete([key, keys.key("user", 8)]) == 1
    assert cache.get("user", key, Loader("again")) == ("again", False, True, "loader")


@pytest.mark.parametrize("junk", [b"T{broken", b"@1;", b"Zxx"])
def test_corrupt_entries_are_reloaded(any_valkey, junk):
    cache = CacheAside(any_valkey)
    key = keys.key("product", 3)
    any_valkey.set(key, junk)
    look = cache.get("product", key, Loader({"id": 3}))
    assert look == ({"id": 3}, False, True, "loader")
    assert cache.get("product", key, Loader()).hit


def test_wrong_type_entries_are_reloaded(any_valkey):
    cache = CacheAside(any_valkey)
    key = keys.key("product", 4)
    any_valkey.rpush(key, b"x")
    assert cache.get("product", key, Loader({"id": 4})).value == {"id": 4}
    assert cache.get("product", key, Loader()).hit


def test_unknown_data_class_is_a_clear_error(any_valkey):
    cache = CacheAside(any_valkey)
    with pytest.raises(UnknownDataClassError, match="unknown data class 'products'"):
        cache.get("products", keys.key("product", 1), Loader())


def test_decoding_client_is_refused(valkey_server):
    import valkey

    client = valkey.Valkey(host=valkey_server.host, port=valkey_server.port, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses=False"):
        CacheAside(client)
    client.close()


def test_every_key_written_has_a_ttl(any_valkey, db):
    """A full scenario through every data class, shape and strategy: no key without TTL."""
    products = ProductRepository(lambda: db)
    row = products.create(name="w", price=Decimal("2.00"))
    policies = with_policies(user=ClassPolicy("lock", shape="hash"))
    cache = CacheAside(any_valkey, policies=policies)
    for data_class in ("static", "product", "user", "price", "session", "config", "query",
                       "dashboard"):
        for ident in (1, 2):
            key = keys.key(data_class, ident)
            value = None if ident == 2 else {"id": ident, "row": row}
            cache.get(data_class, key, Loader(value))
            cache.get(data_class, key, Loader(value))
        cache.set(data_class, keys.key(data_class, 3), {"x": Decimal("1.5")})
        cache.set(data_class, keys.key(data_class, 4), None)
    cache.delete(keys.key("product", 1))
    cache.get("product", keys.key("product", 1), Loader(row))
    found = list(any_valkey.scan_iter(count=1000))
    assert len(found) >= 30
    no_ttl = [k for k in found if any_valkey.ttl(k) == -1]
    assert no_ttl == []


_scalars = (
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False) | st.decimals(allow_nan=False) | st.datetimes()
)
_values = st.dictionaries(st.text(max_size=8), _scalars | st.lists(_scalars, max_size=3),
                          max_size=6) | st.lists(_scalars, max_size=4) | _scalars


@pytest.mark.parametrize("shape", ["string", "hash"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_values, found=st.booleans(), delta=st.integers(0, 10**6))
def test_storage_shapes_round_trip_entries(any_valkey, shape, value, found, delta):
    storage = make_storage(shape, any_valkey, Codec(max_value_bytes=2_000))
    entry = Entry(value if found else None, found, delta, delta * 7)
    key = keys.key("product", "prop")
    try:
        storage.write(key, entry, 60_000)
    except ValueTooLargeError:  # not cached, by design
        return
    back = storage.read(key)
    assert back == entry
    assert back is not None and type(back.value) is type(entry.value)
