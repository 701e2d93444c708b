"""A miss in two round trips: claim the recompute lock and the fill lease in one script,
then store the value and release both in one more.

A leased, locked miss used to cost five round trips on top of the load (``GET``,
``SET NX`` for the lock, a lease script that re-read the value, the fill, the unlock).
Here, after the ``GET`` that found the miss:

1. :meth:`Claims.claim` re-reads the value (another caller may just have stored it) and,
   when it is still absent, takes the lock (``SET NX PX``) and the key's lease, in one
   script. A caller that finds the lock taken is told so (``busy``) and waits;
2. :meth:`Claims.fill` stores the entry, only while the lease is still the one taken
   before the load (a writer's invalidation since then fences it off, see
   :mod:`leases`), and releases the lock by compare-and-delete, in one script.

An XFetch early recompute claims with ``early``: it takes the lock without waiting and
without reading, and a caller that finds it taken keeps serving the current value, so at
most one early recompute of a key is in flight. Both shapes are handled: a string
(``GET``/``SET PX``) or a hash (``HGETALL``/``DEL`` + ``HSET`` + ``PEXPIRE``). The lock
and the lease live beside the value in its cluster slot (``KeyBuilder.companion``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple

from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.leases import DEFAULT_LEASE_MS, new_token
from lambda_app.caching.storage import Shape
from lambda_app.clients.valkey import CacheClient

# KEYS: value, lock, lease. ARGV: shape, sliding ttl ms|'', early '1'|'', lock token|'',
# lock ms, lease token|'', lease ms. Returns {1, value} (stored meanwhile), {2} (the lock
# is someone else's) or {0, lease|false, lock|false} (claimed: load and fill).
CLAIM_LUA = """
if ARGV[3] ~= '1' then
  local value
  if ARGV[1] == 'hash' then
    value = redis.call('HGETALL', KEYS[1])
    if #value == 0 then value = false end
  else
    value = redis.call('GET', KEYS[1])
  end
  if value then
    if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    return {1, value}
  end
end
local lock = false
if ARGV[4] ~= '' then
  if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then return {2} end
  lock = ARGV[4]
end
local lease = false
if ARGV[6] ~= '' then
  lease = redis.call('GET', KEYS[3])
  if not lease then
    lease = ARGV[6]
    redis.call('SET', KEYS[3], lease, 'PX', ARGV[7])
  end
end
return {0, lease, lock}
"""

# KEYS: value, lock, lease. ARGV: lock token|'', lease token|'', ttl ms, shape|'' (''
# stores nothing: release only), then the string payload or the hash's field/value pairs.
# Returns 1 when stored.
FILL_LUA = """
local stored = 0
if ARGV[4] ~= '' and (ARGV[2] == '' or redis.call('GET', KEYS[3]) == ARGV[2]) then
  if ARGV[4] == 'hash' then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], unpack(ARGV, 5))
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
  else
    redis.call('SET', KEYS[1], ARGV[5], 'PX', ARGV[3])
  end
  if ARGV[2] ~= '' then redis.call('DEL', KEYS[3]) end
  stored = 1
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return stored
"""


class Claim(NamedTuple):
    """What :meth:`Claims.claim` found."""

    #: The value stored meanwhile, as the shape's raw reply (bytes, or a hash's fields).
    raw: Any = None
    #: The lock is held by another caller: wait for its value (or keep the current one).
    busy: bool = False
    #: The lease to fill under (leased classes).
    lease: str | None = None
    #: Our lock token, to release with the fill.
    lock: str | None = None


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class Claims:
    """The two scripts of a miss, on one client; each method is one round trip.

    Raises the client's errors: the caller decides what a cache failure means.
    """

    def __init__(
        self,
        client: CacheClient,
        keys: KeyBuilder,
        *,
        lock_ms: int = 5_000,
        lease_ms: int = DEFAULT_LEASE_MS,
    ) -> None:
        self.keys = keys
        self.lock_ms = lock_ms
        self.lease_ms = lease_ms
        self._claim = client.register_script(CLAIM_LUA)
        self._fill = client.register_script(FILL_LUA)

    def _keys(self, key: str) -> list[str]:
        return [key, self.keys.companion(key, "lock"), self.keys.companion(key, "lease")]

    def claim(
        self,
        key: str,
        shape: Shape,
        *,
        lock: bool,
        lease: bool,
        early: bool = False,
        touch_ms: int | None = None,
    ) -> Claim:
        """Re-read ``key``; when absent (or ``early``), take the lock and the lease."""
        args = [
            shape,
            "" if touch_ms is None else touch_ms,
            "1" if early else "",
            secrets.token_hex(8) if lock else "",
            self.lock_ms,
            new_token() if lease else "",
            self.lease_ms,
        ]
        reply: Any = self._claim(keys=self._keys(key), args=args)
        if reply[0] == 1:
            raw = reply[1]
            return Claim(raw=_pairs(raw) if shape == "hash" else raw)
        if reply[0] == 2:
            return Claim(busy=True)
        _, lease_token, lock_token = reply
        return Claim(
            lease=lease_token.decode() if lease_token else None,
            lock=lock_token.decode() if lock_token else None,
        )

    def fill(
        self, key: str, claim: Claim, ttl_ms: int, encoded: bytes | dict[bytes, bytes] | None
    ) -> bool:
        """Store ``encoded`` (a string's payload or a hash's fields) while the claim's lease
        stands, and release its lock; with nothing to store, only release. True when
        stored."""
        args: list[Any] = [claim.lock or "", claim.lease or "", ttl_ms]
        if isinstance(encoded, dict):
            args.append("hash")
            for name, value in encoded.items():
                args += (name, value)
        elif encoded is not None:
            args += ("string", encoded)
        else:
            args.append("")
        return bool(self._fill(keys=self._keys(key), args=args))
