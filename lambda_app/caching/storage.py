"""Two storage shapes behind one interface: a JSON string, or a Valkey hash per object.

The pattern modules only see :class:`Entry` objects (value or not-found marker, plus the
XFetch metadata) and a :class:`Storage`; how bytes are laid out on the server is decided
here. Both shapes keep the two rules the hit path depends on:

* one round trip per read and per write (no ``EXISTS``/``TTL`` before a ``GET``; a
  sliding TTL is refreshed in the read itself: ``GETEX PX`` or a pipelined
  ``HGETALL`` + ``PEXPIRE``);
* every write carries a TTL (``SET PX``; for hashes ``DEL`` + ``HSET`` + ``PEXPIRE`` run
  as one Lua script on one key, so a hash never exists without its TTL, and a cluster
  routes it like any single-key command).

String layout: ``[@<delta_ms>,<expires_at_ms>;]<payload>`` where the payload is a
:mod:`serialization` payload or ``~`` for "not found"; the header is only written when
the entry carries XFetch metadata.

Hash layout (a hash per object, so one field can be read or changed alone, and small
hashes are stored compactly as listpacks): one field per top-level
field of a dict with ``str`` keys, each value prefixed with a one-letter type (``s``
text, ``i`` int, ``f`` float, ``d`` Decimal, ``t`` datetime, ``n`` None, ``j`` anything
else as a serialization payload), so a single field stays readable with ``HGET``.
Reserved fields: ``$m`` (meta, always present, so an empty object still exists),
``$n`` (not found) and ``$v`` (a value that is not a flat object, or one over the size
limit, stored whole through the codec and its compression rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from lambda_app.caching.serialization import Codec, SerializationError, decode, encode

if TYPE_CHECKING:
    from lambda_app.clients.valkey import CacheClient

Shape = Literal["string", "hash"]
SHAPES: tuple[Shape, ...] = ("string", "hash")

_META = ord("@")
_NOT_FOUND = b"~"


class Entry(NamedTuple):
    """What the cache holds for one key."""

    value: Any
    found: bool = True
    #: How long the last load took, in ms: XFetch's delta.
    delta_ms: int = 0
    #: Logical expiry (epoch ms) as written; 0 when not tracked.
    expires_at_ms: int = 0


class Storage(Protocol):
    """One shape of storing entries; every method is one round trip."""

    shape: Shape

    def read(self, key: str, *, touch_ms: int | None = None) -> Entry | None:
        """The entry, or None on a miss; ``touch_ms`` also resets the TTL (sliding)."""
        ...

    def parse(self, raw: Any) -> Entry:
        """The shape's raw reply (bytes, or a hash's fields) -> Entry."""
        ...

    def encode(self, entry: Entry) -> Any:
        """Entry -> what to store (bytes, or a hash's fields); raises ValueTooLargeError."""
        ...

    def write(self, key: str, entry: Entry, ttl_ms: int) -> None:
        """Store with a TTL; raises ValueTooLargeError when the value must not be cached."""
        ...

    def write_raw(self, key: str, encoded: Any, ttl_ms: int) -> None:
        """Store what :meth:`encode` returned, with a TTL."""
        ...

    def delete(self, keys: Sequence[str]) -> int:
        """Delete keys; returns how many existed."""
        ...


def check_bytes_client(client: CacheClient) -> None:
    """Refuse a client that decodes replies: compressed payloads are binary."""
    encoder = client.get_encoder()
    if getattr(encoder, "decode_responses", False):
        raise ValueError(
            "the cache needs a Valkey client with decode_responses=False "
            "(values are bytes; compressed payloads are binary)"
        )


def _parse_meta(meta: bytes) -> tuple[int, int]:
    delta, _, expires = meta.partition(b",")
    return int(delta), int(expires)


def _meta(entry: Entry) -> bytes:
    return b"%d,%d" % (entry.delta_ms, entry.expires_at_ms)


def delete_keys(client: CacheClient, keys: Sequence[str]) -> int:
    """``DEL`` many keys; valkey-py's cluster client splits them by slot itself."""
    if not keys:
        return 0
    return int(client.delete(*keys))


class StringStorage:
    """Each entry is one string value (``GET``/``SET PX``)."""

    shape: Shape = "string"

    def __init__(self, client: CacheClient, codec: Codec | None = None) -> None:
        check_bytes_client(client)
        self.client = client
        self.codec = codec or Codec()

    def read(self, key: str, *, touch_ms: int | None = None) -> Entry | None:
        raw = self.client.get(key) if touch_ms is None else self.client.getex(key, px=touch_ms)
        return None if raw is None else self.parse(raw)

    def parse(self, raw: bytes) -> Entry:
        """Bytes as stored -> Entry (public so a near cache can decode raw replies)."""
        delta = expires = 0
        if raw and raw[0] == _META:
            end = raw.find(b";")
            if end < 0:
                raise SerializationError("corrupt cache entry: unterminated header")
            try:
                delta, expires = _parse_meta(raw[1:end])
            except ValueError:
                raise SerializationError("corrupt cache entry header") from None
            raw = raw[end + 1 :]
        if raw == _NOT_FOUND:
            return Entry(None, False, delta, expires)
        return Entry(decode(raw), True, delta, expires)

    def dumps(self, entry: Entry) -> bytes:
        """Entry -> bytes to store (raises ValueTooLargeError)."""
        body = self.codec.dumps(entry.value) if entry.found else _NOT_FOUND
        if entry.delta_ms or entry.expires_at_ms:
            return b"@" + _meta(entry) + b";" + body
        return body

    encode = dumps

    def write(self, key: str, entry: Entry, ttl_ms: int) -> None:
        self.write_raw(key, self.dumps(entry), ttl_ms)

    def write_raw(self, key: str, encoded: bytes, ttl_ms: int) -> None:
        self.client.set(key, encoded, px=ttl_ms)

    def delete(self, keys: Sequence[str]) -> int:
        return delete_keys(self.client, keys)


# Hash layout ---------------------------------------------------------------------

_F_META = b"$m"
_F_NOT_FOUND = b"$n"
_F_VALUE = b"$v"

_WRITE_HASH = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


def field_bytes(value: Any) -> bytes:  # noqa: PLR0911 - one branch per scalar type
    """One object field -> type-prefixed bytes (the common scalars stay human-readable)."""
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if value is None:
        return b"n"
    if isinstance(value, bool):
        return b"j" + encode(value)
    if isinstance(value, int):
        return b"i%d" % value
    if isinstance(value, float):
        return b"f" + repr(value).encode()
    if isinstance(value, Decimal):
        return b"d" + str(value).encode()
    if isinstance(value, dt.datetime):
        return b"t" + value.isoformat().encode()
    return b"j" + encode(value)


def _decimal(data: bytes) -> Decimal:
    return Decimal(data.decode())


def _datetime(data: bytes) -> dt.datetime:
    return dt.datetime.fromisoformat(data.decode())


_FIELD_DECODERS: dict[int, Callable[[bytes], Any]] = {
    ord("s"): lambda data: data.decode("utf-8", "surrogatepass"),
    ord("n"): lambda data: None,
    ord("i"): int,
    ord("f"): float,
    ord("d"): _decimal,
    ord("t"): _datetime,
    ord("j"): decode,
}


def field_value(raw: bytes) -> Any:
    decoder = _FIELD_DECODERS.get(raw[0]) if raw else None
    if decoder is None:
        raise SerializationError("corrupt hash field")
    return decoder(raw[1:])


def _is_flat_object(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(name, str) and not name.startswith("$") for name in value
    )


#: ``hash-max-listpack-value`` the stack sets (Valkey's default is 64 bytes): a product's
#: description runs to about 120 characters, and one field over the limit turns the
#: whole hash into a hashtable, about 3x the memory (``bench/memory.py`` measures it).
HASH_MAX_LISTPACK_VALUE = 256


class HashStorage:
    """Each entry is one hash: a field per object field (``HGETALL``/Lua write)."""

    shape: Shape = "hash"

    def __init__(self, client: CacheClient, codec: Codec | None = None) -> None:
        check_bytes_client(client)
        self.client = client
        self.codec = codec or Codec()
        self._write_script = client.register_script(_WRITE_HASH)

    def read(self, key: str, *, touch_ms: int | None = None) -> Entry | None:
        if touch_ms is None:
            fields = self.fetch(key)
        else:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(key)
            pipe.pexpire(key, touch_ms)
            fields = pipe.execute()[0]
        return self.parse(fields) if fields else None

    def fetch(self, key: str) -> dict[bytes, bytes]:
        """``HGETALL`` passing ``keys`` so a client-tracking client may serve it locally."""
        fields: dict[bytes, bytes] = self.client.execute_command("HGETALL", key, keys=[key])
        return fields

    def parse(self, fields: dict[bytes, bytes]) -> Entry:
        """``HGETALL`` reply -> Entry."""
        try:
            meta = fields.get(_F_META)
            delta, expires = _parse_meta(meta) if meta else (0, 0)
            if _F_NOT_FOUND in fields:
                return Entry(None, False, delta, expires)
            whole = fields.get(_F_VALUE)
            if whole is not None:
                return Entry(decode(whole), True, delta, expires)
            value = {
                name.decode(): field_value(raw)
                for name, raw in fields.items()
                if name != _F_META
            }
        except SerializationError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise SerializationError(f"corrupt cache hash: {exc}") from None
        return Entry(value, True, delta, expires)

    def fields(self, entry: Entry) -> dict[bytes, bytes]:
        """Entry -> hash fields to store (raises ValueTooLargeError)."""
        out: dict[bytes, bytes] = {_F_META: _meta(entry)}
        if not entry.found:
            out[_F_NOT_FOUND] = b"1"
            return out
        value = entry.value
        if _is_flat_object(value):
            try:
                flat = {name.encode(): field_bytes(item) for name, item in value.items()}
            except UnicodeEncodeError:  # a lone surrogate in a field name: JSON escapes it
                flat = {_F_VALUE: b""}
            size = sum(len(k) + len(v) for k, v in flat.items())
            if _F_VALUE not in flat and size <= self.codec.max_value_bytes:
                out.update(flat)
                return out
            # Over the limit: store it whole so the codec's compress-or-skip rule applies.
        out[_F_VALUE] = self.codec.dumps(value)
        return out

    encode = fields

    def write(self, key: str, entry: Entry, ttl_ms: int) -> None:
        self.write_raw(key, self.fields(entry), ttl_ms)

    def write_raw(self, key: str, encoded: dict[bytes, bytes], ttl_ms: int) -> None:
        args: list[bytes | int] = [ttl_ms]
        for name, raw in encoded.items():
            args += (name, raw)
        self._write_script(keys=[key], args=args)

    def delete(self, keys: Sequence[str]) -> int:
        return delete_keys(self.client, keys)


def make_storage(shape: Shape, client: CacheClient, codec: Codec | None = None) -> Storage:
    """The storage for a shape name; a clear error for anything else."""
    if shape == "string":
        return StringStorage(client, codec)
    if shape == "hash":
        return HashStorage(client, codec)
    raise ValueError(f"unknown storage shape {shape!r}: expected one of {', '.join(SHAPES)}")
