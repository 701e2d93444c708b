"""A read fetched ahead, in another command's round trip, for the next read of its key.

A cached ``GET /products/{id}`` used to cost two round trips: the rate-limit script,
then the cache read. The rate limiter can send the read's ``GET`` in the same pipeline
(:meth:`~rate_limit.RateLimiter.check` with ``also_get``); the reply is parked here for
the current request only, and the cache-aside read of that key takes it instead of
asking Valkey again. A context variable keeps it to the request (and thread) that
fetched it; :func:`parked` clears it when the request ends, so a reply is used at most
once and never outlives its request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: ``(key, raw reply)``: None for "nothing parked"; a raw reply of None is a miss.
_parked: ContextVar[tuple[str, bytes | None] | None] = ContextVar("prefetched", default=None)

MISSING = object()


@contextmanager
def parked(key: str, raw: bytes | None) -> Iterator[None]:
    """``raw`` (the reply to ``GET key``) is what the next read of ``key`` gets."""
    token = _parked.set((key, raw))
    try:
        yield
    finally:
        _parked.reset(token)


def take(key: str) -> bytes | object | None:
    """The parked reply for ``key`` (once), else :data:`MISSING`."""
    found = _parked.get()
    if found is None or found[0] != key:
        return MISSING
    _parked.set(None)
    return found[1]
