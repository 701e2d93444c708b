"""Key building: grammar, validation, hash tags and patterns."""

from __future__ import annotations

import pytest
from valkey.crc import key_slot

from lambda_app.caching.keys import InvalidKeyError, KeyBuilder, hash_tag

pytestmark = pytest.mark.unit

keys = KeyBuilder("app")


def test_entity_and_attribute_keys():
    assert keys.key("product", 42) == "app:product:42"
    assert keys.key("user", "a1", "profile") == "app:user:a1:profile"
    assert KeyBuilder("shop").key("product", 1) == "shop:product:1"


def test_tagged_keys_of_one_entity_share_a_slot():
    a = keys.key("user", 42, "orders", tag=True)
    b = keys.key("user", 42, "profile", tag=True)
    assert a == "app:user:{42}:orders"
    assert key_slot(a.encode()) == key_slot(b.encode())


def test_query_key_sorts_params():
    assert keys.query("top_products") == "app:query:top_products"
    assert keys.query("top", {"limit": 10, "by": "sales"}) == "app:query:top:by=sales,limit=10"


@pytest.mark.parametrize(
    "key", ["app:product:42", "app:user:{42}:orders", "app:query:top:limit=10"]
)
def test_companion_shares_the_slot(key):
    lock = keys.companion(key, "lock")
    assert lock != key
    assert key_slot(lock.encode()) == key_slot(key.encode())


def test_companion_forms():
    assert keys.companion("app:product:42", "lock") == "app:lock:{app:product:42}"
    assert keys.companion("app:user:{42}:orders", "lock") == "app:user:{42}:orders:lock"


def test_hash_tag_rules():
    assert hash_tag("a:{x}:b") == "x"
    assert hash_tag("a:{}:b") == "a:{}:b"  # empty tag: whole key
    assert hash_tag("plain") == "plain"
    assert hash_tag("a:{open") == "a:{open"


def test_patterns():
    assert keys.pattern("user") == "app:user:*"
    assert keys.pattern("user", 42) == "app:user:42:*"
    assert keys.pattern("user", 42, tag=True) == "app:user:{42}:*"


def test_channel():
    assert keys.channel("invalidation") == "app:channel:invalidation"


@pytest.mark.parametrize(
    ("args", "part"),
    [
        (("product", ""), "id"),
        (("product", "a:b"), "id"),
        (("product", "a*"), "id"),
        (("product", "{x}"), "id"),
        (("product", "a b"), "id"),
        (("product", True), "id"),
        (("product", 1.5), "id"),
        (("pro:duct", 1), "resource"),
        (("product", 1, "x?"), "attribute"),
        (("product", "x" * 201), "id"),
    ],
)
def test_invalid_parts_name_the_part(args, part):
    with pytest.raises(InvalidKeyError, match=f"invalid cache key {part} "):
        keys.key(*args)


def test_invalid_prefix():
    with pytest.raises(InvalidKeyError, match="prefix"):
        KeyBuilder("my app")


def test_invalid_query_param():
    with pytest.raises(InvalidKeyError, match="limit"):
        keys.query("top", {"limit": "1,2:3"})
