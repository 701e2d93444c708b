"""Invalidation: by key, by pattern, by group, with retries and an announcement per write.

What the sources get wrong, and what this module does instead:

* ``r.keys(pattern)`` blocks the server for the whole keyspace walk, and ElastiCache
  Serverless disables ``KEYS``. Here :meth:`Invalidator.delete_matching` walks the
  keyspace in batches and removes each batch with ``UNLINK`` (the memory is freed off
  the main thread). A cluster on Valkey 9.1+ is walked with ``CLUSTERSCAN``, one cursor
  across every slot that follows slot migrations and failovers; older clusters with
  ``SCAN`` on every primary, since each primary only scans its own keys.
* ``r.delete(key)`` after a commit is one attempt; if it fails, the stale value stays
  until its TTL. Here a failed delete is remembered (:class:`PendingInvalidations`) and
  retried before the next cache command of this process; the TTL stays the backstop.
* "everything about user 42" needs no key listing at all: :class:`GroupVersions` embeds
  a per-group version in those keys, so one ``INCR`` makes all of them unreachable in
  O(1); the old entries expire on their own TTL.
* every invalidation is announced (``announce(keys)``), so near caches in other app
  instances drop their copies (event-driven invalidation).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from valkey.cluster import ValkeyCluster

from lambda_app.caching.arguments import whole_number
from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.keys import KeyBuilder
from lambda_app.clients.valkey import VALKEY_ERRORS, ValkeyClient, server_version

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Receives the keys just invalidated (e.g. publishes them on the invalidation channel).
Announcer = Callable[[Sequence[str]], object]

DEFAULT_BATCH = 500
MAX_BATCH = 10_000
MAX_PENDING = 10_000
_GLOB = set("*?[")


def _check_batch(batch_size: int) -> int:
    return whole_number("batch_size", batch_size, maximum=MAX_BATCH)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (the batches sent in one round trip)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def unlink(client: ValkeyClient, keys: Sequence[str]) -> int:
    """``UNLINK`` keys; the cluster client splits the call by slot (no CROSSSLOT)."""
    if not keys:
        return 0
    reply: Any = client.unlink(*keys)
    return int(reply)


def primaries(client: ValkeyClient) -> list[Any]:
    """A client per primary: the client itself, or one per primary node of a cluster."""
    if isinstance(client, ValkeyCluster):
        cluster: Any = client  # valkey-py leaves these cluster methods untyped
        return [cluster.get_valkey_connection(node) for node in cluster.get_primaries()]
    return [client]


#: Valkey adds ``CLUSTERSCAN`` in 9.1.
CLUSTERSCAN_SINCE = (9, 1)


def _name(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def cluster_scan(client: ValkeyClient, pattern: str, batch_size: int) -> Iterator[list[str]]:
    """Batches of key names matching ``pattern`` across a whole 9.1+ cluster.

    The cursor (``fingerprint-{hashtag}-localcursor``) names the slot it is in, so each
    call goes to that slot's owner; a slot that moved meanwhile answers ``MOVED``, which
    the cluster client follows with the same cursor.
    """
    cluster: Any = client  # valkey-py leaves the cluster routing methods untyped
    cursor = "0"
    while True:
        tag = cursor.partition("{")[2].partition("}")[0]
        options: dict[str, Any] = {}
        if tag:
            options["target_nodes"] = cluster.get_node_from_key(tag)
        reply = cluster.execute_command(
            "CLUSTERSCAN", cursor, "MATCH", pattern, "COUNT", batch_size, **options
        )
        cursor, keys = _name(reply[0]), reply[1]
        if keys:
            yield [_name(key) for key in keys]
        if cursor == "0":
            return


def scan_keys(client: ValkeyClient, pattern: str, batch_size: int, *,
              clusterscan: bool = False) -> Iterator[list[str]]:
    """Batches of matching key names: ``CLUSTERSCAN`` when asked (a 9.1+ cluster), else
    :func:`scan_primaries`."""
    if clusterscan and isinstance(client, ValkeyCluster):
        return cluster_scan(client, pattern, batch_size)
    return scan_primaries(client, pattern, batch_size)


def has_clusterscan(client: ValkeyClient) -> bool:
    """A cluster whose servers have ``CLUSTERSCAN`` (read from the version once)."""
    return isinstance(client, ValkeyCluster) and server_version(client) >= CLUSTERSCAN_SINCE


def scan_primaries(client: ValkeyClient, pattern: str, batch_size: int) -> Iterator[list[str]]:
    """Batches of key names matching ``pattern``, from every primary of a cluster.

    ``SCAN`` only sees the keys of the node it runs on, so a cluster is walked node by
    node; ``COUNT`` bounds the work the server does per call, so no call blocks it.
    """
    for node in primaries(client):
        found = (
            k.decode() if isinstance(k, bytes) else k
            for k in node.scan_iter(match=pattern, count=batch_size)
        )
        yield from chunks(found, batch_size)


class PendingInvalidations:
    """Keys whose invalidation failed, retried before this process's next cache command.

    Bounded: past ``MAX_PENDING`` keys the oldest are dropped and only their TTL will
    remove them (logged). Thread-safe: the local server runs handlers on threads.
    """

    def __init__(self, retry: Callable[[list[str]], object], limit: int = MAX_PENDING) -> None:
        self._retry = retry
        self._limit = limit
        self._keys: dict[str, None] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._keys[key] = None
            overflow = len(self._keys) - self._limit
            for key in list(self._keys)[: max(0, overflow)]:
                del self._keys[key]
        if overflow > 0:
            log.error("dropped %d pending invalidations; their TTL will expire them", overflow)

    def flush(self) -> int:
        """Retry every pending key once; those that fail again stay pending."""
        if not self._keys:
            return 0
        with self._lock:
            keys = list(self._keys)
            self._keys.clear()
        try:
            self._retry(keys)
        except VALKEY_ERRORS:
            self.add(keys)
            return 0
        log.info("applied %d pending invalidations", len(keys))
        return len(keys)


class Invalidator:
    """Deletes cache entries after database writes, and announces what it deleted."""

    def __init__(
        self,
        client: ValkeyClient,
        *,
        announce: Announcer | None = None,
        batch_size: int = DEFAULT_BATCH,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.client = client
        self.batch_size = _check_batch(batch_size)
        self._breaker = breaker or CircuitBreaker()
        self._announce = announce
        self.pending = PendingInvalidations(self._unlink_now)
        #: CLUSTERSCAN available (a 9.1+ cluster); read on the first pattern delete.
        self._clusterscan: bool | None = None

    def _unlink_now(self, keys: list[str]) -> int:
        return self._breaker.call(
            lambda: sum(unlink(self.client, batch) for batch in chunks(keys, self.batch_size))
        )

    def announce(self, keys: Sequence[str]) -> None:
        """Tell other instances (near caches) that ``keys`` changed; never raises."""
        if self._announce is None or not keys:
            return
        try:
            self._announce(keys)
        except VALKEY_ERRORS as exc:
            log.warning("invalidation announcement failed (%s); near caches rely on TTL", exc)

    def delete(self, *keys: str, strict: bool = False) -> int:
        """``UNLINK`` keys now; on failure remember them for a retry. Returns keys removed.

        Does not raise on a cache outage (unless ``strict``, for operators): the
        database write it follows has committed, so the caller's operation succeeded; a
        stale entry lives at most until the retry or its TTL.
        """
        if not keys:
            return 0
        self.pending.flush()
        try:
            deleted = self._unlink_now(list(keys))
        except VALKEY_ERRORS as exc:
            if strict:
                raise
            log.warning("invalidation of %d keys failed (%s); will retry", len(keys), exc)
            self.pending.add(keys)
            deleted = 0
        self.announce(keys)
        return deleted

    def delete_matching(self, pattern: str, *, batch_size: int | None = None) -> int:
        """``CLUSTERSCAN``/``SCAN MATCH pattern`` + ``UNLINK`` in batches; never ``KEYS``.

        Raises on a cache outage (an admin operation should report that it did not run).
        """
        if not isinstance(pattern, str) or not pattern or pattern.strip("*?") == "":
            raise ValueError(f"pattern must name some keys, not match everything: {pattern!r}")
        size = _check_batch(batch_size or self.batch_size)
        self.pending.flush()
        deleted = 0
        if self._clusterscan is None:
            self._clusterscan = has_clusterscan(self.client)
        for batch in scan_keys(self.client, pattern, size, clusterscan=self._clusterscan):
            deleted += unlink(self.client, batch)
            self.announce(batch)
        return deleted


# Version of a group, created from the server clock so a lost counter (evicted, expired,
# flushed) comes back *higher* than before and old entries can never be reached again.
_VERSION_LUA = """
local v = redis.call('GET', KEYS[1])
if not v then
  local t = redis.call('TIME')
  v = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[1], v, 'PX', ARGV[1])
elseif ARGV[2] == '1' then
  v = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return v
"""


class GroupVersions:
    """O(1) invalidation of every key of one group ("everything about user 42").

    Keys of a group embed its version (``app:user:{42}:v<version>.orders``); bumping
    the version, one ``INCR``, makes them all unreachable at once, however many there
    are; they then expire on their own TTL. The version lives beside the group's keys
    (same hash tag, same cluster slot). The price is one extra ``GET`` per lookup.
    """

    def __init__(
        self,
        client: ValkeyClient,
        keys: KeyBuilder,
        *,
        version_ttl_seconds: float = 86_400,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if version_ttl_seconds <= 0:
            raise ValueError(f"version_ttl_seconds must be > 0, got {version_ttl_seconds!r}")
        self.keys = keys
        self._ttl_ms = max(1, round(version_ttl_seconds * 1000))
        self._script = client.register_script(_VERSION_LUA)  # type: ignore[misc]
        self._breaker = breaker or CircuitBreaker()

    def version_key(self, resource: str, id: str | int) -> str:
        return self.keys.key(resource, id, "version", tag=True)

    def _call(self, resource: str, id: str | int, *, bump: bool) -> int:
        reply = self._breaker.call(
            self._script,
            keys=[self.version_key(resource, id)],
            args=[self._ttl_ms, "1" if bump else "0"],
        )
        return int(reply)

    def version(self, resource: str, id: str | int) -> int:
        """The group's current version (created on first use)."""
        return self._call(resource, id, bump=False)

    def key(self, resource: str, id: str | int, attribute: str) -> str:
        """The versioned key of ``attribute`` in the group: ``app:user:{42}:v<n>.orders``."""
        self.keys.key(resource, id, attribute, tag=True)  # validate before the round trip
        version = self.version(resource, id)
        return self.keys.key(resource, id, f"v{version}.{attribute}", tag=True)

    def invalidate(self, resource: str, id: str | int) -> int:
        """Make every key of the group unreachable; returns the new version."""
        return self._call(resource, id, bump=True)
