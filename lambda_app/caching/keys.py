"""Every cache key the app writes is built here, as ``prefix:resource:id[:attribute]``.

Why one module: the sources format keys inline (``f'user:{user_id}'`` in one place,
``product:{id}:details`` in another), so invalidation by pattern misses keys and two
apps sharing a server collide. Building keys in one place gives:

* a configurable prefix (``CACHE_PREFIX``) that namespaces the whole app;
* validated parts: no separators, glob characters or braces inside a part, so
  ``SCAN MATCH`` patterns built here can never match a neighbour's keys, and a hash
  tag can only come from this module;
* hash tags where keys must share a cluster slot: ``tag=True`` wraps the id
  (``app:user:{42}:orders``) so every key of one entity lands on one slot, and
  :meth:`KeyBuilder.companion` puts a key's lock beside the key itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Default key prefix (``CACHE_PREFIX``).
DEFAULT_PREFIX = "app"

#: Characters allowed in one key part: no ':' (separator), no glob characters
#: (``* ? [ ] \``), no braces (hash tags), no whitespace.
_PART = re.compile(r"[A-Za-z0-9_.@+=,/-]{1,200}")
_MAX_KEY_BYTES = 1024


class InvalidKeyError(ValueError):
    """A key part is empty, too long, or holds a reserved character; names the part."""

    def __init__(self, what: str, value: object) -> None:
        self.what = what
        self.value = value
        super().__init__(
            f"invalid cache key {what} {value!r}: expected 1-200 characters from "
            "letters, digits and _ . @ + = , / - (no ':', braces, spaces or glob characters)"
        )


def _part(what: str, value: object) -> str:
    """One validated key part; ints are allowed (ids), bools are not (a bug, not an id)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidKeyError(what, value)
    text = str(value)
    if not _PART.fullmatch(text):
        raise InvalidKeyError(what, value)
    return text


def hash_tag(key: str) -> str:
    """The part of ``key`` that Valkey Cluster hashes to pick the slot.

    The rule of the cluster spec: the content of the first ``{...}`` if non-empty,
    otherwise the whole key.
    """
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


@dataclass(frozen=True, slots=True)
class KeyBuilder:
    """Builds keys and patterns under one prefix; cheap, immutable, shareable."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        _part("prefix", self.prefix)

    def key(
        self,
        resource: str,
        id: str | int,
        attribute: str | None = None,
        *,
        tag: bool = False,
    ) -> str:
        """``prefix:resource:id[:attribute]``; ``tag=True`` hash-tags the id (``{id}``)."""
        ident = _part("id", id)
        text = f"{self.prefix}:{_part('resource', resource)}:"
        text += f"{{{ident}}}" if tag else ident
        if attribute is not None:
            text += f":{_part('attribute', attribute)}"
        return text

    def query(self, name: str, params: Mapping[str, str | int] | None = None) -> str:
        """Key of a cached query result: ``prefix:query:name[:k=v,k=v]`` (params sorted)."""
        base = f"{self.prefix}:query:{_part('query name', name)}"
        if not params:
            return base
        pairs = [f"{_part('parameter name', k)}={_part(k, v)}" for k, v in sorted(params.items())]
        return self._check_length(f"{base}:{','.join(pairs)}")

    def companion(self, key: str, kind: str) -> str:
        """A key that lives beside ``key`` in the same cluster slot (its lock, its meta).

        ``app:product:42`` -> ``app:lock:{app:product:42}``; a key that already has a hash
        tag keeps it: ``app:user:{42}:orders`` -> ``app:user:{42}:orders:lock``.
        """
        kind = _part("kind", kind)
        if hash_tag(key) == key:
            return self._check_length(f"{self.prefix}:{kind}:{{{key}}}")
        return self._check_length(f"{key}:{kind}")

    def pattern(self, resource: str, id: str | int | None = None, *, tag: bool = False) -> str:
        """``SCAN MATCH`` pattern for every key of a resource, or of one entity's attributes.

        ``pattern("user")`` -> ``app:user:*``; ``pattern("user", 42)`` -> ``app:user:42:*``
        (the entity key ``app:user:42`` itself is not matched: delete it by name).
        """
        base = f"{self.prefix}:{_part('resource', resource)}"
        if id is None:
            return f"{base}:*"
        ident = _part("id", id)
        return f"{base}:{{{ident}}}:*" if tag else f"{base}:{ident}:*"

    def channel(self, name: str) -> str:
        """A pub/sub channel name under the prefix (channels are not keys: no TTL)."""
        return f"{self.prefix}:channel:{_part('channel', name)}"

    @staticmethod
    def _check_length(key: str) -> str:
        if len(key.encode()) > _MAX_KEY_BYTES:
            raise InvalidKeyError("key", key[:80] + "...")
        return key
