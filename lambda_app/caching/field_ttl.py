"""A field that goes stale sooner than its object: hash field expiration (Valkey 9.0+).

A product may be cached for an hour, but its price only for 10 seconds. Expiring the
whole product every 10 s reloads and resends every field to refresh one. Here the
product is one hash and the price field carries its own TTL (``HSETEX ... PX``), so:

* a read is one round trip (``HGETALL``): an expired price is simply absent;
* a read that finds it absent reloads only the price and sets it back with its TTL
  (``HSETEX key XX``: only while the product is still cached, so a refresh never
  recreates a product that was invalidated meanwhile without its other fields);
* the object as a whole keeps its own TTL (``PEXPIRE``) and invalidation (``DEL``).

On Valkey 8.x, which has no field TTL, each volatile field lives in a companion string
key in the same cluster slot (``SET PX``): the read is one script (``HGETALL`` and a
``GET`` per companion, still one round trip) and so is the write. Which one
is used is read once from the server's version (:func:`supports_field_ttl`).

Field values use the typed one-letter layout of :mod:`storage` (``d`` Decimal, ``t``
datetime...), so a price reads back as the exact ``Decimal`` it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.storage import field_bytes, field_value
from lambda_app.clients.valkey import server_version

if TYPE_CHECKING:
    from lambda_app.clients.valkey import CacheClient

FIELD_TTL_SINCE = (9, 0)

# KEYS: the object hash. ARGV: object ttl ms, number of volatile fields, then volatile
# (name, value, ttl ms) triples, then the other fields' name/value pairs.
_WRITE_NATIVE = """
redis.call('DEL', KEYS[1])
local volatile = tonumber(ARGV[2])
local first = 3 + 3 * volatile
if #ARGV >= first then redis.call('HSET', KEYS[1], unpack(ARGV, first)) end
for i = 0, volatile - 1 do
  local at = 3 + 3 * i
  redis.call('HSETEX', KEYS[1], 'PX', ARGV[at + 2], 'FIELDS', 1, ARGV[at], ARGV[at + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS: the object hash, then one companion key per volatile field. ARGV: as above.
_WRITE_COMPANIONS = """
redis.call('DEL', unpack(KEYS))
local volatile = tonumber(ARGV[2])
local first = 3 + 3 * volatile
if #ARGV >= first then redis.call('HSET', KEYS[1], unpack(ARGV, first)) end
for i = 0, volatile - 1 do
  local at = 3 + 3 * i
  redis.call('SET', KEYS[2 + i], ARGV[at + 1], 'PX', ARGV[at + 2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS: the object hash, then the companions. Returns {hash fields, companion values...}.
_READ_COMPANIONS = """
local out = {redis.call('HGETALL', KEYS[1])}
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
"""

# KEYS: the object hash, the field's companion. ARGV: field, value, ttl ms. Only while
# the object is cached. Returns 1 when set.
_REFRESH_COMPANION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

Source = Literal["cache", "partial", "loader"]


class FieldRead(NamedTuple):
    """What :meth:`FieldTtlCache.get` answered."""

    value: dict[str, Any] | None
    #: ``cache`` (every field cached), ``partial`` (volatile fields reloaded), ``loader``.
    source: Source
    #: The volatile fields that were reloaded (empty unless ``partial``).
    reloaded: frozenset[str] = frozenset()


def supports_field_ttl(client: CacheClient) -> bool:
    """Valkey 9.0+ has ``HSETEX``/``HGETEX`` (per-field TTL)."""
    return server_version(client) >= FIELD_TTL_SINCE


class FieldTtlCache:
    """Objects as hashes whose ``volatile`` fields expire on their own (name -> ms)."""

    def __init__(
        self,
        client: CacheClient,
        *,
        volatile: Mapping[str, int],
        ttl_ms: int,
        keys: KeyBuilder | None = None,
        native: bool | None = None,
    ) -> None:
        if not volatile or any(ms < 1 for ms in volatile.values()) or ttl_ms < 1:
            raise ValueError("field TTLs and the object TTL must be >= 1 ms")
        self.client = client
        self.volatile = dict(volatile)
        self.ttl_ms = ttl_ms
        self.keys = keys or KeyBuilder()
        #: Hash field expiration on the server (9.0+); else companion keys.
        self.native = supports_field_ttl(client) if native is None else native
        script = _WRITE_NATIVE if self.native else _WRITE_COMPANIONS
        self._write = client.register_script(script)
        self._refresh = None if self.native else client.register_script(_REFRESH_COMPANION)
        self._read = None if self.native else client.register_script(_READ_COMPANIONS)

    def companion(self, key: str, field: str) -> str:
        """Where a volatile field lives on servers without field TTL (same slot)."""
        return self.keys.companion(key, f"field.{field}")

    def read(self, key: str) -> dict[str, Any] | None:
        """The object with whichever volatile fields are still fresh; None on a miss.
        One round trip."""
        if self.native:
            raw: dict[bytes, bytes] = self.client.execute_command("HGETALL", key)
            fresh: dict[bytes, bytes] = {}
        else:
            assert self._read is not None
            reply: Any = self._read(
                keys=[key, *(self.companion(key, name) for name in self.volatile)]
            )
            flat, values = reply[0], reply[1:]
            raw = dict(zip(flat[::2], flat[1::2], strict=True))
            fresh = {
                name.encode(): value
                for name, value in zip(self.volatile, values, strict=True)
                if value is not None
            }
        if not raw:
            return None
        return {name.decode(): field_value(value) for name, value in {**raw, **fresh}.items()}

    def write(self, key: str, value: Mapping[str, Any]) -> None:
        """Store the whole object: its TTL, and each volatile field's own. One round trip."""
        args: list[Any] = [self.ttl_ms, 0]
        count = 0
        for name, ttl in self.volatile.items():
            if name in value:
                args += (name, field_bytes(value[name]), ttl)
                count += 1
        args[1] = count
        for name, item in value.items():
            if name not in self.volatile:
                args += (name, field_bytes(item))
        keys = [key]
        if not self.native:
            keys += [self.companion(key, name) for name in self.volatile if name in value]
        self._write(keys=keys, args=args)

    def refresh(self, key: str, fields: Mapping[str, Any]) -> bool:
        """Set reloaded volatile fields with their TTLs, only while the object is cached."""
        stored = True
        for name, item in fields.items():
            ttl, data = self.volatile[name], field_bytes(item)
            if self.native:
                reply = self.client.execute_command(
                    "HSETEX", key, "XX", "PX", ttl, "FIELDS", 1, name, data
                )
            else:
                assert self._refresh is not None
                reply = self._refresh(keys=[key, self.companion(key, name)], args=[name, data, ttl])
            stored = stored and bool(reply)
        return stored

    def get(
        self,
        key: str,
        load: Callable[[], Mapping[str, Any] | None],
        load_fields: Callable[[Iterable[str]], Mapping[str, Any]],
    ) -> FieldRead:
        """Read through: a miss loads and stores the object; an object whose volatile
        fields expired reloads only those (``load_fields(names)``)."""
        cached = self.read(key)
        if cached is None:
            loaded = load()
            if loaded is None:
                return FieldRead(None, "loader")
            self.write(key, loaded)
            return FieldRead(dict(loaded), "loader")
        missing = frozenset(name for name in self.volatile if name not in cached)
        if not missing:
            return FieldRead(cached, "cache")
        fresh = dict(load_fields(sorted(missing)))
        self.refresh(key, fresh)
        return FieldRead({**cached, **fresh}, "partial", missing)
