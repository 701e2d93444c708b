"""Fill leases: a cache fill never lands after the invalidation of what it read.

The classic race of every look-aside cache: a reader misses and loads the row; a writer
commits a change and deletes the key; the reader then stores the row it loaded *before*
the commit, and the old row stays cached for the whole TTL (stale-set-after-delete).
Two writers can likewise store their rows in the opposite order of their commits.
Leases, as in Facebook's "Scaling Memcache" (NSDI 2013), close both:

* a reader that misses takes the key's current lease token (creating one if there is
  none) in the same round trip as its ``GET`` (:meth:`Leases.read`), then loads the row;
* a writer, after its commit, replaces the token and deletes the value in one script
  (:meth:`Leases.renew`), or removes the token (:meth:`Leases.revoke`);
* a fill is a compare-and-set (:meth:`Leases.fill`, Lua): it stores only while the token
  is still the one taken *before* the database read, and consumes it.

So a fill whose read may predate a commit always fails: that commit's writer has
replaced or removed the token since. Tokens are random, so a lease lost to eviction or
expiry can never be matched again (no ABA); a lost lease only ever makes a fill fail,
leaving a miss, never a stale value.

One class serves every pattern that fills entities which writers change: write-through
(:mod:`write_through`), cache-aside for the classes with ``ClassPolicy(lease=True)``
(:mod:`cache_aside`) and sessions; warming takes the same leases for whole batches
(:mod:`warming`). The lease lives beside its value in the same cluster slot
(``KeyBuilder.companion(key, "lease")``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple

from lambda_app.caching.arguments import whole_number
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.storage import delete_keys
from lambda_app.clients.valkey import CacheClient

#: How long a lease (fill token) lives; a fill slower than this simply fails (a miss).
DEFAULT_LEASE_MS = 30_000

# KEYS: value, lease[, write-back marker]. ARGV: sliding ttl ms or '', new lease token,
# lease ms, marker ms, '1' to take the lease even when the value exists (an early
# recompute replaces a value that is still there). Returns {value|false, lease|false,
# marker_set 0/1}.
READ_LUA = """
if ARGV[5] ~= '1' then
  local value = redis.call('GET', KEYS[1])
  if value then
    if ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
    local marked = 0
    if KEYS[3] and redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then marked = 1 end
    return {value, false, marked}
  end
end
local lease = redis.call('GET', KEYS[2])
if not lease then
  lease = ARGV[2]
  redis.call('SET', KEYS[2], lease, 'PX', ARGV[3])
end
return {false, lease, 0}
"""

# KEYS: value, lease. ARGV: token, payload, ttl ms. Stores the value only while the lease
# is the one taken before the database read, and consumes the lease. Returns 1/0.
FILL_LUA = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""

# KEYS: lease. ARGV: token. Gives a lease back unused (nothing to store): 1/0.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: value, lease. ARGV: new lease token, lease ms. Fences off every earlier fill.
RENEW_LUA = """
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return redis.call('DEL', KEYS[1])
"""


def new_token() -> str:
    """A random lease token (128 bits): never equal to an earlier one."""
    return secrets.token_hex(16)


class LeaseRead(NamedTuple):
    """The answer of :meth:`Leases.read`: the stored bytes (a hit) or a lease to fill under."""

    raw: bytes | None
    token: str | None
    #: The write-back marker was set by this read (see ``marker`` of :meth:`Leases.read`).
    marked: bool


class Leases:
    """The lease protocol on one client; every method is one round trip.

    Raises the client's errors: callers decide what a cache failure means for them.
    """

    def __init__(
        self, client: CacheClient, keys: KeyBuilder | None = None, *,
        lease_ms: int = DEFAULT_LEASE_MS,
    ) -> None:
        self.client = client
        self.keys = keys or KeyBuilder()
        self.lease_ms = whole_number("lease_ms", lease_ms)
        self._read = client.register_script(READ_LUA)
        self._fill = client.register_script(FILL_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)

    def lease_key(self, key: str) -> str:
        """Where the lease of ``key`` lives (same cluster slot)."""
        return self.keys.companion(key, "lease")

    def read(
        self,
        key: str,
        *,
        touch_ms: int | None = None,
        marker: str | None = None,
        marker_ms: int = 0,
        take: bool = False,
    ) -> LeaseRead:
        """The value, or the key's lease (taken when there is none), in one round trip.

        On a hit, ``touch_ms`` resets the value's TTL (sliding expiry) and ``marker`` is
        a key set ``NX PX marker_ms`` (``marked`` says whether this read set it).
        ``take=True`` returns the lease even when the value exists (early recompute).
        """
        keys = [key, self.lease_key(key)] + ([marker] if marker else [])
        args = [
            "" if touch_ms is None else touch_ms, new_token(), self.lease_ms, marker_ms,
            "1" if take else "",
        ]
        reply: Any = self._read(keys=keys, args=args)
        raw, token, marked = reply
        return LeaseRead(raw, token.decode() if token else None, bool(marked))

    def fill(self, key: str, token: str, payload: bytes, ttl_ms: int) -> bool:
        """Store ``payload`` only while ``token`` is still the lease; consumes it."""
        stored: Any = self._fill(keys=[key, self.lease_key(key)], args=[token, payload, ttl_ms])
        return bool(stored)

    def release(self, key: str, token: str) -> bool:
        """Give back ``token`` unused, so a miss that stores nothing leaves no key behind
        (it stays if a writer replaced it meanwhile)."""
        return bool(self._release(keys=[self.lease_key(key)], args=[token]))

    def renew(self, key: str) -> str:
        """Delete the value and replace the lease (fences off every fill in flight);
        returns the new token, for the writer's own fill."""
        token = new_token()
        self._renew(keys=[key, self.lease_key(key)], args=[token, self.lease_ms])
        return token

    def renew_all(self, keys: Sequence[str]) -> None:
        """:meth:`renew` for many keys (the retry of invalidations that failed)."""
        for key in keys:
            self.renew(key)

    def revoke(self, keys: Sequence[str]) -> int:
        """Remove the leases of ``keys``: every fill in flight for them fails; the next miss
        takes a new lease. Call it *before* deleting the values (a fill that slipped in
        between would otherwise survive the delete)."""
        return delete_keys(self.client, [self.lease_key(key) for key in keys])
