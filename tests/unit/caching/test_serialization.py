"""Serialization round-trips exactly what PyMySQL returns; size rule; clear errors."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_app.caching.serialization import (
    Codec,
    SerializationError,
    ValueTooLargeError,
    _walked,
    decode,
    encode,
)

pytestmark = pytest.mark.unit


def same(a, b) -> bool:
    """Equal, with the same types all the way down (Decimal('1.10') is not Decimal('1.1'))."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return bool(a.keys() == b.keys()) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return bool(len(a) == len(b)) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, dt.datetime | dt.time):
        return bool(a.isoformat() == b.isoformat())
    return bool(a == b)


# Whole-second UTC offsets: real zones never have sub-second offsets, and Python 3.11's
# fromisoformat drops the microseconds of one.
offsets = st.builds(
    lambda seconds: dt.timezone(dt.timedelta(seconds=seconds)),
    st.integers(min_value=-23 * 3600, max_value=23 * 3600),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False)
    | st.datetimes()
    | st.datetimes(timezones=offsets)
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.binary()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.lists(inner, max_size=5).map(tuple)
    | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=20,
)


@given(values)
def test_round_trip_is_exact(value):
    assert same(decode(encode(value)), value)


@given(values)
def test_round_trip_through_compression(value):
    codec = Codec(max_value_bytes=16)
    try:
        payload = codec.dumps(value)
    except ValueTooLargeError:
        return
    assert same(codec.loads(payload), value)


rows = st.dictionaries(st.text(max_size=5), scalars, max_size=8)
fast_values = rows | st.lists(rows | scalars, max_size=4) | scalars


@given(fast_values)
def test_the_fast_path_writes_the_walks_bytes(value):
    """Rows, lists of rows and scalars skip the walk; the payload must not change."""
    assert encode(value) == _walked(value)
    assert same(decode(encode(value)), value)


def test_pymysql_row_round_trips():
    row = {
        "id": 7,
        "name": "Luxury Widget",
        "price": Decimal("19.90"),
        "description": None,
        "updated_at": dt.datetime(2024, 5, 1, 12, 30, 0, 123456),
    }
    stats = {"total_users": 3, "total_sales": Decimal("1234.50"), "avg_order": Decimal("411.5000")}
    for value in (row, stats, [row, row], []):
        assert same(decode(encode(value)), value)


def test_plain_json_stays_plain_and_readable():
    payload = encode({"id": 1, "tags": ["a", "b"], "ok": True})
    assert json.loads(payload) == {"id": 1, "tags": ["a", "b"], "ok": True}


def test_tagged_only_when_needed():
    assert encode({"price": Decimal("1.10")}).startswith(b"T")
    assert not encode({"price": 1.1}).startswith(b"T")


@pytest.mark.parametrize("value", [0, "", [], {}, False, None])
def test_empty_values_round_trip(value):
    assert same(decode(encode(value)), value)


def test_user_dict_that_looks_like_a_tag_is_escaped():
    value = {"$d": "not a decimal"}
    assert decode(encode(value)) == value
    nested = {"x": {"$t": "2024-01-01T00:00:00"}, "y": [{"$o": [[1, 2]]}]}
    assert decode(encode(nested)) == nested


def test_non_str_keys_are_refused_with_location():
    with pytest.raises(SerializationError, match=r"dict key 1 \(int\) at value\['a'\]"):
        encode({"a": {1: "x"}})


def test_unsupported_type_names_type_and_path():
    with pytest.raises(SerializationError, match=r"cannot cache a set at value\['tags'\]"):
        encode({"tags": {"a"}})


@pytest.mark.parametrize("payload", [b"", b"T{", b"Zgarbage", b"{not json", b'T{"$d":"x"}'])
def test_corrupt_payload_is_a_serialization_error(payload):
    with pytest.raises(SerializationError):
        decode(payload)


def test_large_values_compress_or_skip():
    big = {"description": "lorem ipsum " * 20_000}  # ~240 KB, compressible
    compress = Codec(max_value_bytes=102_400, large_values="compress")
    packed = compress.dumps(big)
    assert packed.startswith(b"Z")
    assert len(packed) <= 102_400
    assert compress.loads(packed) == big

    with pytest.raises(ValueTooLargeError, match="exceeds the 102400-byte limit"):
        Codec(max_value_bytes=102_400, large_values="skip").dumps(big)


def test_incompressible_large_value_is_refused():
    noise = {"blob": os.urandom(200_000)}
    with pytest.raises(ValueTooLargeError) as info:
        Codec(max_value_bytes=102_400).dumps(noise)
    assert info.value.size > info.value.limit == 102_400


def test_small_values_are_not_compressed():
    assert not Codec(max_value_bytes=100).dumps({"a": 1}).startswith(b"Z")


def test_codec_rejects_bad_configuration():
    with pytest.raises(ValueError, match="large_values"):
        Codec(large_values="zip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_value_bytes"):
        Codec(max_value_bytes=0)


def test_codec_from_settings():
    from lambda_app.settings import Settings

    settings = Settings.from_env({"CACHE_MAX_VALUE_BYTES": "2048", "CACHE_LARGE_VALUES": "skip"})
    codec = Codec.from_settings(settings.cache)
    assert (codec.max_value_bytes, codec.large_values) == (2048, "skip")


@pytest.mark.parametrize(
    "value",
    [
        float("inf"),
        [float("-inf"), 1.5],
        "\ud800 lone surrogate",
        {"price": Decimal("9.90"), "note": "\udfff"},
        {"ratio": float("inf"), "at": dt.datetime(2026, 1, 2, 3, 4, 5)},
    ],
)
def test_values_the_fast_decoder_refuses_still_round_trip(value):
    """msgspec rejects Infinity literals and lone surrogate escapes that ``json``
    writes; decoding falls back to ``json`` for them, exactly."""
    assert decode(encode(value)) == value
