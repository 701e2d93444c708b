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
* a payload over ``max_value_bytes`` (100 KB, the second source's rule) is either
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
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings

LargeValues = Literal["compress", "skip"]

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

    def walk(self, value: Any, where: str) -> Any:  # noqa: PLR0911 - one branch per type
        if value is None or isinstance(value, str | bool | int | float):
            return value
        if isinstance(value, dict):
            return self._mapping(value, where)
        if isinstance(value, list):
            return [self.walk(item, f"{where}[{i}]") for i, item in enumerate(value)]
        self.tagged = True
        if isinstance(value, tuple):
            return {"$u": [self.walk(item, f"{where}[{i}]") for i, item in enumerate(value)]}
        if isinstance(value, Decimal):
            return {"$d": str(value)}
        if isinstance(value, dt.datetime):  # before date: datetime is a date
            return {"$t": value.isoformat()}
        if isinstance(value, dt.date):
            return {"$D": value.isoformat()}
        if isinstance(value, dt.time):
            return {"$T": value.isoformat()}
        if isinstance(value, dt.timedelta):
            return {"$r": [value.days, value.seconds, value.microseconds]}
        if isinstance(value, bytes | bytearray):
            return {"$b": base64.b64encode(value).decode("ascii")}
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


def encode(value: Any) -> bytes:
    """Plain JSON when possible, tagged JSON otherwise; never compressed."""
    tagger = _Tagger()
    data = tagger.walk(value, "value")
    text = json.dumps(data, separators=(",", ":")).encode()
    return b"T" + text if tagger.tagged else text


def decode(data: bytes) -> Any:
    """Inverse of :func:`encode` and of :meth:`Codec.dumps` (handles compression)."""
    try:
        if not data:
            raise SerializationError("empty cache payload")
        first = data[0]
        if first == TAGGED:
            return json.loads(data[1:], object_hook=_object_hook)
        if first == COMPRESSED:
            return decode(zlib.decompress(data[1:]))
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
