"""What a cached read answers: :class:`Lookup`, shared by every read pattern."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

Source = Literal["near", "cache", "loader", "bypass"]
Loader = Callable[[], Any]


class Lookup(NamedTuple):
    """The answer of :meth:`CacheAside.get`."""

    #: The value, or None when it does not exist.
    value: Any
    #: Answered without calling the loader (near cache, Valkey, or another caller's load).
    hit: bool
    #: False when the value does not exist (loader returned None, or a cached marker).
    found: bool
    #: ``near`` (L1), ``cache`` (Valkey), ``loader`` (miss, loaded and cached) or
    #: ``bypass`` (cache unavailable or breaker open: loaded, not cached).
    source: Source
