"""Near cache (L1, in-process) in front of Valkey, for the few classes that need it.

A hit from process memory costs a dict lookup instead of a network round trip, but
every instance now holds its own copy, so a write must reach all of them. Two ways:

* :class:`NearCache` keeps decoded entries in a bounded LRU and is invalidated by
  messages on a pub/sub channel (:mod:`events`): every writer publishes the key names
  it changed, every instance drops them. The subscriber clears the whole L1 whenever
  it (re)connects, and while it is not subscribed the L1 accepts nothing, so a lost
  connection costs hit ratio, never staleness beyond the message delivery time.
* :class:`TrackingNearCache` lets the *server* invalidate: valkey-py 6.2's client-side
  caching (``protocol=3, cache_enabled=True``: RESP3 ``CLIENT TRACKING``) keeps the
  replies of ``GET``/``HGETALL`` per connection and drops them when the server pushes
  an invalidation, which valkey-py drains before every cached read. Writers need not
  publish anything. Decoded entries are memoised by reply identity, so a hit does not
  re-decode. (Do not install the libvalkey parser extra: it crashes with client-side
  caching.)

Both are bounded (``max_size``) and age-bounded (``max_age_s`` and the data-class TTL),
and both are off by default (``NEAR_CACHE_CLASSES``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lambda_app.caching.events import DEFAULT_CHANNEL, InvalidationSubscriber
from lambda_app.caching.serialization import Codec
from lambda_app.caching.storage import Entry, Shape, Storage, StringStorage, make_storage

if TYPE_CHECKING:
    from lambda_app.clients.valkey import CacheClient, TrackingClient


class NearCache:
    """Bounded, age-bounded LRU of decoded entries, invalidated by pub/sub messages."""

    def __init__(
        self,
        max_size: int = 1024,
        max_age_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"near cache max_size must be >= 1, got {max_size}")
        if max_age_s <= 0:
            raise ValueError(f"near cache max_age_s must be > 0, got {max_age_s}")
        self.max_size = max_size
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._generation = 0
        self.subscriber: InvalidationSubscriber | None = None
        self.channel: str | None = None

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Entry | None:
        """The entry if present and younger than its expiry, else None."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if self._clock() >= item[0]:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def generation(self) -> int:
        """Take before reading Valkey; pass to :meth:`put` to refuse a stale fill."""
        return self._generation

    def put(self, key: str, entry: Entry, ttl_ms: int, generation: int) -> bool:
        """Store unless an invalidation arrived since ``generation`` (a read racing a
        write must not park the old value here) or the subscriber is not listening."""
        subscriber = self.subscriber
        if subscriber is not None and not subscriber.ready.is_set():
            return False
        expires = self._clock() + min(ttl_ms / 1000.0, self.max_age_s)
        with self._lock:
            if generation != self._generation:
                return False
            self._data[key] = (expires, entry)
            self._data.move_to_end(key)
            while len(self._data) > self.max_size:
                self._data.popitem(last=False)
        return True

    def invalidate(self, keys: Iterable[str]) -> int:
        """Drop keys; returns how many were present."""
        dropped = 0
        with self._lock:
            self._generation += 1
            for key in keys:
                if self._data.pop(key, None) is not None:
                    dropped += 1
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._data.clear()

    def listen(self, client: CacheClient, channel: str = DEFAULT_CHANNEL) -> InvalidationSubscriber:
        """Start the background subscriber that applies invalidation messages here."""
        if self.subscriber is None:
            self.channel = channel
            self.subscriber = InvalidationSubscriber(
                client, self.invalidate, channel=channel, on_flush=self.clear
            ).start()
        return self.subscriber

    def close(self) -> None:
        if self.subscriber is not None:
            self.subscriber.stop()
            self.subscriber = None
        self.clear()


def is_tracking_client(client: object) -> bool:
    """Whether valkey-py was built with client-side caching (RESP3 tracking)."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        kwargs = pool.connection_kwargs
    else:  # cluster client
        kwargs = getattr(getattr(client, "nodes_manager", None), "connection_kwargs", {})
    return bool(kwargs.get("cache_enabled") or kwargs.get("client_cache")) and str(
        kwargs.get("protocol")
    ) == "3"


class TrackingNearCache:
    """L1 kept by valkey-py's RESP3 client tracking; decoded entries memoised by reply."""

    def __init__(self, client: TrackingClient, *, memo_size: int = 1024) -> None:
        if not is_tracking_client(client):
            raise ValueError(
                "TrackingNearCache needs a client built with protocol=3 and cache_enabled=True"
            )
        if memo_size < 1:
            raise ValueError(f"memo_size must be >= 1, got {memo_size}")
        self.client = client
        self.memo_size = memo_size
        self._lock = threading.Lock()
        self._memo: dict[str, tuple[Any, Entry]] = {}

    def storage(self, shape: Shape, codec: Codec) -> Storage:
        """A storage of this shape that reads (and writes) through the tracking client."""
        return make_storage(shape, self.client, codec)

    def read(self, storage: Storage, key: str) -> tuple[Entry | None, bool]:
        """``(entry, served_locally)``; a string reply identical to the last one is local."""
        if isinstance(storage, StringStorage):
            raw = self.client.get(key)
            if raw is None:
                return None, False
            memo = self._memo.get(key)
            if memo is not None and memo[0] is raw:
                return memo[1], True
            entry = storage.parse(raw)
            with self._lock:
                if len(self._memo) >= self.memo_size:
                    self._memo.pop(next(iter(self._memo)))
                self._memo[key] = (raw, entry)
            return entry, False
        return storage.read(key), False

    def invalidate(self, keys: Iterable[str]) -> int:
        """Drop memoised decodes (the server invalidates the replies themselves)."""
        with self._lock:
            return sum(self._memo.pop(key, None) is not None for key in keys)

    def clear(self) -> None:
        with self._lock:
            self._memo.clear()
        self.client.flush_cache()

    def close(self) -> None:
        self.clear()
