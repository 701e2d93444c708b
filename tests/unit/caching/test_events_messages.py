"""Invalidation message format and the subscriber's dispatch (no server)."""

from __future__ import annotations

import pytest

from lambda_app.caching.events import (
    DEFAULT_CHANNEL,
    InvalidationSubscriber,
    decode_message,
    encode_message,
)

pytestmark = pytest.mark.unit


def test_round_trip_and_flush():
    keys = ["app:product:1", "app:user:{2}:orders"]
    assert decode_message(encode_message(keys)) == keys
    assert decode_message(b"*") is None
    assert decode_message("*") is None
    assert DEFAULT_CHANNEL == "app:channel:invalidation"


@pytest.mark.parametrize("data", [b"{", b'{"a":1}', b"[1,2]"])
def test_malformed_message_is_a_clear_error(data):
    with pytest.raises(ValueError, match="malformed invalidation message"):
        decode_message(data)


def test_dispatch():
    dropped: list[list[str]] = []
    flushes: list[int] = []
    sub = InvalidationSubscriber(None, dropped.append, on_flush=lambda: flushes.append(1))
    sub.handle({"type": "subscribe", "data": 1})
    assert sub.ready.is_set()
    assert flushes == [1]  # a (re)subscribe may have missed messages
    sub.handle({"type": "message", "data": encode_message(["a"])})
    sub.handle({"type": b"message", "data": b"*"})
    sub.handle({"type": "message", "data": b"garbage"})  # logged and ignored
    sub.handle({"type": "pong", "data": b""})
    assert dropped == [["a"]]
    assert flushes == [1, 1]
    assert sub.messages == 3
