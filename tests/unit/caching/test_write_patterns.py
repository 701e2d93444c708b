"""Pure logic of the write-side patterns: argument checks, packing, bookkeeping.

A valkey.Valkey object is built where a constructor needs one; it never connects.
"""

from __future__ import annotations

import hashlib
import struct

import pytest
import valkey

from lambda_app.caching.invalidation import GroupVersions, Invalidator, PendingInvalidations, chunks
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.rate_limit import RateLimiter
from lambda_app.caching.sessions import InvalidSessionError, SessionStore, digest
from lambda_app.caching.warming import Warmer, WarmReport, pack_fill
from lambda_app.caching.write_through import WriteThrough, new_token

pytestmark = pytest.mark.unit

CLIENT = valkey.Valkey(host="127.0.0.1", port=1)  # never used to send a command


# rate limiting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit must be >= 1"),
        ({"window_seconds": 0}, "window must be > 0"),
        ({"algorithm": "token-bucket"}, "algorithm must be one of log, sliding, fixed"),
    ],
)
def test_rate_limiter_refuses_bad_settings(options, message):
    arguments = {"prefix": "app", "limit": 10, "window_seconds": 60, **options}
    with pytest.raises(ValueError, match=message):
        RateLimiter(CLIENT, **arguments)


@pytest.mark.parametrize(
    ("caller", "message"),
    [("", "non-empty"), ("  ", "non-empty"), (None, "non-empty"), ("x" * 201, "at most 200")],
)
def test_rate_limiter_refuses_bad_callers(caller, message):
    limiter = RateLimiter(CLIENT, prefix="app", limit=10, window_seconds=60)
    with pytest.raises(ValueError, match=message):
        limiter.key(caller)


def test_rate_limit_key_is_one_key_per_caller_and_algorithm():
    fixed = RateLimiter(CLIENT, prefix="app", limit=1, window_seconds=1, algorithm="fixed")
    exact = RateLimiter(CLIENT, prefix="app", limit=1, window_seconds=1)
    assert fixed.key("ip:::1") == "app:rl:fixed:ip:::1"  # IPv6 callers are fine
    assert exact.key("ip:::1") == "app:rl:log:ip:::1"


# invalidation -------------------------------------------------------------------------


def test_chunks_splits_in_order():
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []


def test_pending_invalidations_retry_once_and_keep_failures():
    calls = []

    def retry(keys):
        calls.append(keys)
        if len(calls) == 1:
            raise valkey.exceptions.ConnectionError("down")

    pending = PendingInvalidations(retry)
    pending.add(["a", "b", "a"])
    assert len(pending) == 2
    assert pending.flush() == 0 and len(pending) == 2  # still down: kept
    assert pending.flush() == 2 and len(pending) == 0
    assert pending.flush() == 0 and calls == [["a", "b"], ["a", "b"]]


def test_pending_invalidations_are_bounded():
    pending = PendingInvalidations(lambda keys: None, limit=3)
    pending.add(["a", "b", "c", "d", "e"])
    assert len(pending) == 3


@pytest.mark.parametrize("size", [0, -1, 10_001, 1.5, True])
def test_invalidator_refuses_bad_batch_sizes(size):
    with pytest.raises(ValueError, match="batch_size"):
        Invalidator(CLIENT, batch_size=size)


def test_group_keys_are_hash_tagged_and_validated():
    groups = GroupVersions(CLIENT, KeyBuilder("app"))
    assert groups.version_key("user", 42) == "app:user:{42}:version"
    with pytest.raises(ValueError, match="invalid cache key attribute"):
        groups.key("user", 42, "bad attribute")
    with pytest.raises(ValueError, match="version_ttl_seconds"):
        GroupVersions(CLIENT, KeyBuilder(), version_ttl_seconds=0)


# write-through ------------------------------------------------------------------------


def test_lease_tokens_are_random_and_128_bit():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000 and all(len(token) == 32 for token in tokens)


def test_write_through_keys_put_the_lease_in_the_values_slot():
    wt = WriteThrough(CLIENT, resource="user", data_class="user", load=lambda _: None)
    key = wt.key(42)
    assert key == "app:user:42"
    assert wt.lease_key(key) == "app:lease:{app:user:42}"


def test_write_through_refuses_an_unknown_data_class():
    with pytest.raises(ValueError, match="unknown data class"):
        WriteThrough(CLIENT, resource="user", data_class="people", load=lambda _: None)


# sessions -----------------------------------------------------------------------------


def test_session_digest_is_sha256_of_a_well_formed_token():
    token = "A" * 43
    assert digest(token) == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("token", ["", "A" * 42, "A" * 44, "A" * 42 + "=", None, b"A" * 43])
def test_malformed_session_tokens_are_invalid(token):
    with pytest.raises(InvalidSessionError, match=r"^invalid session$"):
        digest(token)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"touch_interval_seconds": 0}, "touch_interval"),
        ({"ttl_seconds": 30, "touch_interval_seconds": 60}, "touch_interval"),
    ],
)
def test_session_store_refuses_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        SessionStore(CLIENT, repo=None, **options)  # type: ignore[arg-type]


# warming ------------------------------------------------------------------------------


def test_pack_fill_layout():
    token, sizes, ttls, blob = pack_fill("t", [(b"abc", 1000), (b"", 5), (b"xy", 7)])
    assert token == "t"
    assert struct.unpack(">3I", sizes) == (3, 0, 2)
    assert struct.unpack(">3I", ttls) == (1000, 5, 7)
    assert blob == b"abcxy"


def test_warm_report_as_dict():
    report = WarmReport(warmed=3, skipped=1, seconds=0.5)
    assert report.as_dict() == {
        "warmed": 3,
        "skipped": 1,
        "missing": 0,
        "fenced": 0,
        "too_large": 0,
        "batches": 0,
        "seconds": 0.5,
    }


@pytest.mark.parametrize("size", [0, -5, 2.5, False])
def test_warmer_refuses_bad_batch_sizes(size):
    with pytest.raises(ValueError, match="batch_size"):
        Warmer(CLIENT, batch_size=size)
