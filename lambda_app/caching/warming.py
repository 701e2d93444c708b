"""Cache warming, pipelined in batches, safe against concurrent writes.

Warming with one ``SETEX`` per key costs N network round trips for N keys. Here a batch
of keys costs two round trips, whatever its size:

1. *prepare*: one call takes the lease of every key of the batch (the :mod:`leases`
   lease, as write-through and cache-aside take it); with ``skip_fresh``, keys with
   more than ``fresh_fraction`` of their class TTL left are skipped, and never read
   from the database;
2. the rows of the remaining keys are loaded from the database in one query;
3. *fill*: one call stores every row with its own jittered TTL, each only while the
   lease is still the warm's (payloads, sizes and TTLs travel as three packed arguments:
   thousands of small arguments cost the client more than the server's work).

Taking the leases *before* reading the database matters: a write that commits during the
warm replaces the lease, so the warm cannot store the row it read before that commit
(the stale-set race described in :mod:`leases`); taking them over also fences off
fills that read the database earlier than the warm, which could only be older.

On a standalone server each step is one Lua call over the whole batch; in a cluster the
keys of a batch live in many slots, so each step is one call per key, all sent in one
pipeline (the client groups it by node).
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import valkey
from valkey.cluster import ValkeyCluster

from lambda_app.caching.arguments import whole_number
from lambda_app.caching.invalidation import DEFAULT_BATCH, chunks
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import DEFAULT_LEASE_MS, Leases, new_token
from lambda_app.caching.serialization import ValueTooLargeError
from lambda_app.caching.storage import Entry, StringStorage
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.valkey import ValkeyClient

log = logging.getLogger(__name__)

Row = Mapping[str, Any]
LoadMany = Callable[[Sequence[Any]], Mapping[Any, Row]]
Pairs = Sequence[tuple[str, str]]

# KEYS: value1, lease1, ... ARGV: lease ms, lease token, fresh threshold ms or ''.
# Takes the lease of every key to warm (fencing off fills that read the database
# earlier: they would not be fresher than this warm). Returns 1 (warm it) or 0 (fresh).
PREPARE_LUA = """
local out = {}
for i = 1, #KEYS, 2 do
  if ARGV[3] ~= '' and redis.call('PTTL', KEYS[i]) >= tonumber(ARGV[3]) then
    out[#out + 1] = 0
  else
    redis.call('SET', KEYS[i + 1], ARGV[2], 'PX', ARGV[1])
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: value1, lease1, ... ARGV: lease token, payload lengths and TTLs (ms) as 4-byte
# big-endian integers, the payloads concatenated. Four arguments whatever the batch size:
# packing thousands of small arguments costs the client more than the server's work.
# Stores each value whose lease is still ours, consumes the lease; returns 1/0 per pair.
FILL_PACKED_LUA = """
local out, pos = {}, 1
for i = 1, #KEYS, 2 do
  local at = (i - 1) * 2 + 1
  local size = struct.unpack('>I4', ARGV[2], at)
  local ttl = struct.unpack('>I4', ARGV[3], at)
  if redis.call('GET', KEYS[i + 1]) == ARGV[1] then
    redis.call('SET', KEYS[i], string.sub(ARGV[4], pos, pos + size - 1), 'PX', ttl)
    redis.call('DEL', KEYS[i + 1])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
  pos = pos + size
end
return out
"""


def pack_fill(token: str, items: Sequence[tuple[bytes, int]]) -> list[Any]:
    """The arguments of FILL_PACKED_LUA for (payload, ttl ms) items, in their order."""
    sizes = struct.pack(f">{len(items)}I", *(len(payload) for payload, _ in items))
    ttls = struct.pack(f">{len(items)}I", *(ttl for _, ttl in items))
    return [token, sizes, ttls, b"".join(payload for payload, _ in items)]


_COUNTS = ("warmed", "skipped", "missing", "fenced", "too_large", "batches")


@dataclass(frozen=True)
class WarmReport:
    """What a warm did: ``warmed`` stored, ``skipped`` still fresh, ``missing`` not in
    the database, ``fenced`` overtaken by a concurrent write (which stored newer data)."""

    warmed: int = 0
    skipped: int = 0
    missing: int = 0
    fenced: int = 0
    too_large: int = 0
    batches: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BatchScript:
    """A multi-key Lua script over (value, lease) pairs: one call per batch on a
    standalone server; in a cluster, where a batch spans many slots, one call per pair,
    all sent in one pipeline (routed by the pair's slot)."""

    def __init__(self, client: ValkeyClient, source: str) -> None:
        self.client = client
        self.source = source
        self.script = client.register_script(source)  # type: ignore[misc]
        self.cluster = isinstance(client, ValkeyCluster)

    def __call__(self, pairs: Pairs, args: Callable[[slice], list[Any]]) -> list[Any]:
        """One reply item per pair; ``args(slice)`` builds the arguments for those pairs."""
        if not pairs:
            return []
        if not self.cluster:
            keys = [key for pair in pairs for key in pair]
            reply: Any = self.script(keys=keys, args=args(slice(None)))
            return list(reply)
        try:
            return self._pipelined(pairs, args)
        except valkey.exceptions.NoScriptError:
            self.client.script_load(self.source)  # on every primary
            return self._pipelined(pairs, args)

    def _pipelined(self, pairs: Pairs, args: Callable[[slice], list[Any]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for i, (value_key, lease_key) in enumerate(pairs):
            # execute_command: the cluster pipeline blocks the evalsha() helper, not the
            # command, and routes EVALSHA by its first key.
            pipe.execute_command(
                "EVALSHA", self.script.sha, 2, value_key, lease_key, *args(slice(i, i + 1))
            )
        return [reply[0] for reply in pipe.execute()]


class Warmer:
    """Pre-loads entities into the cache in pipelined, lease-guarded batches."""

    def __init__(
        self,
        client: ValkeyClient,
        *,
        keys: KeyBuilder | None = None,
        ttl: TtlPolicy | None = None,
        storage: StringStorage | None = None,
        batch_size: int = DEFAULT_BATCH,
        lease_ms: int = DEFAULT_LEASE_MS,
    ) -> None:
        self.batch_size = whole_number("batch_size", batch_size)
        self.client = client
        self.keys = keys or KeyBuilder()
        self.ttl = ttl or TtlPolicy()
        self.storage = storage or StringStorage(client)
        self.leases = Leases(client, self.keys, lease_ms=lease_ms)
        self._prepare = BatchScript(client, PREPARE_LUA)
        self._fill = BatchScript(client, FILL_PACKED_LUA)

    def warm(
        self,
        resource: str,
        data_class: str,
        ids: Sequence[Hashable],
        load_many: LoadMany,
        *,
        skip_fresh: bool = False,
        fresh_fraction: float = 0.5,
    ) -> WarmReport:
        """Warm the entities ``ids`` of ``resource``; ``load_many(ids)`` returns
        ``{id: row}`` for those that exist (one database query per batch).

        ``skip_fresh`` leaves keys alone whose remaining TTL is above
        ``fresh_fraction`` of the class TTL. Cache errors propagate: a warm that did
        not run must say so.
        """
        self.ttl.check(data_class)
        if not 0.0 < fresh_fraction <= 1.0:
            raise ValueError(f"fresh_fraction must be in (0, 1], got {fresh_fraction!r}")
        fresh_ms: int | str = ""
        if skip_fresh:
            fresh_ms = round(self.ttl.base_seconds(data_class) * 1000 * fresh_fraction)
        started = time.perf_counter()
        totals = dict.fromkeys(_COUNTS, 0)
        for batch in chunks(list(dict.fromkeys(ids)), self.batch_size):
            counts = self._warm_batch(resource, data_class, batch, load_many, fresh_ms)
            for name, count in counts.items():
                totals[name] += count
            totals["batches"] += 1
        return WarmReport(**totals, seconds=round(time.perf_counter() - started, 6))

    def _warm_batch(
        self,
        resource: str,
        data_class: str,
        ids: Sequence[Any],
        load_many: LoadMany,
        fresh_ms: int | str,
    ) -> dict[str, int]:
        keys = [self.keys.key(resource, id) for id in ids]
        pairs = [(key, self.leases.lease_key(key)) for key in keys]
        token = new_token()
        prepare_args = [self.leases.lease_ms, token, fresh_ms]
        wanted = [i for i, take in enumerate(self._prepare(pairs, lambda _: prepare_args)) if take]
        rows = load_many([ids[i] for i in wanted]) if wanted else {}
        fill_pairs: list[tuple[str, str]] = []
        items: list[tuple[bytes, int]] = []
        too_large = missing = 0
        for i in wanted:
            row = rows.get(ids[i])
            if row is None:
                missing += 1
                continue
            try:
                payload = self.storage.dumps(Entry(row))
            except ValueTooLargeError:
                too_large += 1
                continue
            fill_pairs.append(pairs[i])
            items.append((payload, self.ttl.ttl_ms(data_class)))
        filled = self._fill(fill_pairs, lambda part: pack_fill(token, items[part]))
        stored = sum(int(flag) for flag in filled)
        return {
            "warmed": stored,
            "skipped": len(ids) - len(wanted),
            "missing": missing,
            "fenced": len(fill_pairs) - stored,
            "too_large": too_large,
        }
