"""Values <-> bytes, exactly: what PyMySQL returns comes back equal after a cache hit.

The sources call ``json.dumps(row)``, which raises on the ``Decimal`` and ``datetime``
values PyMySQL returns (``price DECIMAL``, ``SUM(amount)``, ``TIMESTAMP``), and stringify
everything when given ``default=str``, so a hit returns ``"9.99"`` where a miss returned
``Decimal("9.99")``. Here:

* plain JSON-able values are stored as plain JSON (readable with ``valkey-cli``) and
  decoded with bare ``json.loads``;
* values holding ``Decimal``, ``datetime``, ``date``, ``time``, ``timedelta``, ``bytes``
  or tuples are stored as *tagged* JSON (``T`` + JSON where such a value is a one-key
  object such as ``{"$d": "9.99"}``) and decoded with an ``object_hook``; the hook is
  only paid for values that need it;
* rows (flat dicts of scalars), lists of rows and scalars, by far the most common
  values, skip the generic walk: one pass over their value types picks plain or tagged,
  and the C JSON encoder (built once) writes them, tagging ``Decimal``/``datetime``
  through its ``default`` hook; the bytes are the same as the walk's;
* a payload over ``max_value_bytes`` (100 KB: large values block the single-threaded
  server while they are copied, and crowd out many small ones) is either
  zlib-compressed (``Z`` + deflate of the payload) or refused with
  :class:`ValueTooLargeError`, by configuration (``CACHE_LARGE_VALUES``).

The first byte tells the format apart: JSON never starts with ``T`` or ``Z``.
Dict keys must be strings (JSON would silently turn ``1`` into ``"1"``); sets and other
types raise :class:`SerializationError` naming the type and where it sits.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings, LargeValues

TAGGED = ord("T")
COMPRESSED = ord("Z")
_ESCAPE = "$o"


class SerializationError(ValueError):
    """A value cannot be stored exactly, or stored bytes cannot be decoded."""


class ValueTooLargeError(ValueError):
    """The encoded value exceeds the size limit (after compression, when enabled)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"cache value of {size} bytes exceeds the {limit}-byte limit")


def _timedelta(value: list[int]) -> dt.timedelta:
    days, seconds, micros = value
    return dt.timedelta(days=days, seconds=seconds, microseconds=micros)


#: Tag -> decoder. A tagged value is a JSON object with exactly one of these keys.
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$d": Decimal,
    "$t": dt.datetime.fromisoformat,
    "$D": dt.date.fromisoformat,
    "$T": dt.time.fromisoformat,
    "$r": _timedelta,
    "$b": base64.b64decode,
    "$u": tuple,
    _ESCAPE: dict,  # [[key, value], ...] -> the escaped user dict
}


def _bytes_tag(value: bytes | bytearray) -> dict[str, Any]:
    return {"$b": base64.b64encode(value).decode("ascii")}


#: Type -> its tagged form (inverse of _DECODERS; datetime before date: it is a date).
_TAGS: dict[type, Callable[[Any], dict[str, Any]]] = {
    Decimal: lambda value: {"$d": str(value)},
    dt.datetime: lambda value: {"$t": value.isoformat()},
    dt.date: lambda value: {"$D": value.isoformat()},
    dt.time: lambda value: {"$T": value.isoformat()},
    dt.timedelta: lambda value: {"$r": [value.days, value.seconds, value.microseconds]},
    bytes: _bytes_tag,
    bytearray: _bytes_tag,
}


def _tagger_for(value: Any) -> Callable[[Any], dict[str, Any]] | None:
    tag = _TAGS.get(type(value))
    if tag is None:  # a subclass (rare): the first matching base, in _TAGS order
        tag = next((t for kind, t in _TAGS.items() if isinstance(value, kind)), None)
    return tag


#: msgspec's JSON decoder: ~6x faster than ``json.loads`` on a product row. It refuses a
#: few inputs ``json`` accepts (NaN/Infinity literals, lone surrogate escapes, floats
#: beyond range); those fall back to ``json`` so every stored value still decodes exactly.
_fast_decode = msgspec.json.Decoder().decode


def _untag(value: Any) -> Any:
    """What ``_object_hook`` does while ``json`` parses, after msgspec parsed: one-key
    tag objects become their values, innermost first."""
    if type(value) is dict:
        if len(value) == 1:
            for key, item in value.items():
                decoder = _DECODERS.get(key)
                if decoder is not None:
                    return decoder(_untag(item))
        return {key: _untag(item) if type(item) in _CONTAINERS else item
                for key, item in value.items()}
    if type(value) is list:
        return [_untag(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = (dict, list)


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        for key, value in obj.items():
            decoder = _DECODERS.get(key)
            if decoder is not None:
                return decoder(value)
    return obj


class _Tagger:
    """Turns a value into JSON-able data, noting whether any tag was needed."""

    __slots__ = ("tagged",)

    def __init__(self) -> None:
        self.tagged = False

    def walk(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, str | bool | int | float):
            return value
        if isinstance(value, dict):
            return self._mapping(value, where)
        if isinstance(value, list):
            return [self.walk(item, f"{where}[{i}]") for i, item in enumerate(value)]
        self.tagged = True
        if isinstance(value, tuple):
            return {"$u": [self.walk(item, f"{where}[{i}]") for i, item in enumerate(value)]}
        tag = _tagger_for(value)
        if tag is not None:
            return tag(value)
        raise SerializationError(
            f"cannot cache a {type(value).__name__} at {where}: supported are None, str, "
            "bool, int, float, Decimal, datetime, date, time, timedelta, bytes, "
            "list, tuple and dict with str keys"
        )

    def _mapping(self, value: dict[Any, Any], where: str) -> Any:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise SerializationError(
                    f"cannot cache a dict key {key!r} ({type(key).__name__}) at {where}: "
                    "keys must be str"
                )
            out[key] = self.walk(item, f"{where}[{key!r}]")
        if len(out) == 1 and next(iter(out)) in _DECODERS:
            # A user dict that looks like a tag: store it as pairs so the hook, which
            # sees inner objects first, cannot mistake it for a tag.
            self.tagged = True
            return {_ESCAPE: [[key, item] for key, item in out.items()]}
        return out


def _tag(value: Any) -> dict[str, Any]:
    """The JSON encoder's ``default`` hook on the fast path (exact types only get there)."""
    return _TAGS[type(value)](value)


def _json_encoder(default: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """Compact ASCII JSON through the C encoder, built once: ``json.dumps`` builds a
    ``JSONEncoder`` and a C encoder on every call, a third of a small row's cost. No
    circular check: the values that take this path are flat."""
    if c_make_encoder is None:  # pragma: no cover - CPython always has the accelerator
        return json.JSONEncoder(separators=(",", ":"), default=default).encode
    encoder = c_make_encoder(
        None, default, encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda value: "".join(encoder(value, 0))


_dumps_plain = _json_encoder(None)
_dumps_tagged = _json_encoder(_tag)

_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_TAGGABLE_TYPES = _PLAIN_TYPES | frozenset(_TAGS)
_STR = frozenset({str})
_PLAIN, _TAGGED = 0, 1


def _row_kind(row: dict[Any, Any]) -> int | None:
    """A flat dict with str keys and exact scalar types: plain or tagged; else None."""
    if len(row) == 1 and next(iter(row)) in _DECODERS:
        return None  # looks like a tag: the walk escapes it
    if not _STR.issuperset(map(type, row)):
        return None
    types = set(map(type, row.values()))
    if types <= _PLAIN_TYPES:
        return _PLAIN
    return _TAGGED if types <= _TAGGABLE_TYPES else None


def _fast_kind(value: Any) -> int | None:
    """Whether ``value`` is a row, a list of rows or scalars, or a scalar, and then
    whether it needs tags. None: nested data, tuples, non-str keys, subclasses or
    unsupported types, which the walk handles (and reports with their location)."""
    kind = type(value)
    if kind is dict:
        return _row_kind(value)
    if kind is list:
        need = _PLAIN
        for item in value:
            item_kind = _row_kind(item) if type(item) is dict else _scalar_kind(item)
            if item_kind is None:
                return None
            need |= item_kind
        return need
    return _scalar_kind(value)


def _scalar_kind(value: Any) -> int | None:
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return _PLAIN
    return _TAGGED if kind in _TAGGABLE_TYPES else None


def _walked(value: Any) -> bytes:
    """The general encoder: walk the value into JSON-able data, tagging as needed."""
    tagger = _Tagger()
    data = tagger.walk(value, "value")
    text = _dumps_plain(data).encode()
    return b"T" + text if tagger.tagged else text


def encode(value: Any) -> bytes:
    """Plain JSON when possible, tagged JSON otherwise; never compressed."""
    kind = _fast_kind(value)
    if kind == _PLAIN:
        return _dumps_plain(value).encode()
    if kind == _TAGGED:
        return b"T" + _dumps_tagged(value).encode()
    return _walked(value)


def decode(data: bytes) -> Any:
    """Inverse of :func:`encode` and of :meth:`Codec.dumps` (handles compression)."""
    try:
        if not data:
            raise SerializationError("empty cache payload")
        first = data[0]
        if first == TAGGED:
            try:
                return _untag(_fast_decode(memoryview(data)[1:]))
            except msgspec.MsgspecError:  # see _fast_decode
                return json.loads(data[1:], object_hook=_object_hook)
        if first == COMPRESSED:
            return decode(zlib.decompress(data[1:]))
        try:
            return _fast_decode(data)
        except msgspec.MsgspecError:
            return json.loads(data)
    except SerializationError:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError, zlib.error) as exc:
        raise SerializationError(f"corrupt cache payload: {exc}") from None


@dataclass(frozen=True, slots=True)
class Codec:
    """Encoding plus the size rule: over ``max_value_bytes`` -> compress or refuse."""

    max_value_bytes: int = 102_400
    large_values: LargeValues = "compress"
    compress_level: int = 6

    def __post_init__(self) -> None:
        if self.max_value_bytes < 1:
            raise ValueError(f"max_value_bytes must be >= 1, got {self.max_value_bytes}")
        if self.large_values not in ("compress", "skip"):
            raise ValueError(
                f"large_values must be 'compress' or 'skip', got {self.large_values!r}"
            )

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> Codec:
        return cls(max_value_bytes=settings.max_value_bytes, large_values=settings.large_values)

    def dumps(self, value: Any) -> bytes:
        """Bytes to store; raises ValueTooLargeError when the value must not be cached."""
        return self.fit(encode(value))

    def fit(self, payload: bytes) -> bytes:
        """Apply the size rule to an encoded payload (compress or refuse)."""
        if len(payload) <= self.max_value_bytes:
            return payload
        if self.large_values == "skip":
            raise ValueTooLargeError(len(payload), self.max_value_bytes)
        packed = b"Z" + zlib.compress(payload, self.compress_level)
        if len(packed) > self.max_value_bytes:
            raise ValueTooLargeError(len(packed), self.max_value_bytes)
        return packed

    @staticmethod
    def loads(data: bytes) -> Any:
        return decode(data)
