"""TTL strategy: one TTL per data class, jitter, a short negative TTL, sliding classes.

Why jitter: keys written together (a warm-up, a deploy, a burst of misses) would all
expire in the same second and send the same burst to the database again. Spreading
each TTL uniformly over ``ttl * (1 ± jitter)`` (±10 % by default) breaks that rhythm.

Why milliseconds: a 10 s price TTL with ±10 % jitter is 9-11 s; whole seconds would
leave only three distinct values. Keys are written with ``PX``.

Every key the app writes gets a TTL from here, so nothing in the cache lives forever
(a key written without a TTL outlives every change to its row; here that cannot
happen by construction).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from lambda_app.settings import DEFAULT_TTLS

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings

#: The data classes of the app, in the order of the TTL table.
DATA_CLASSES: tuple[str, ...] = tuple(DEFAULT_TTLS)

#: Classes whose TTL is refreshed on every hit by default (sessions time out on idleness).
DEFAULT_SLIDING: frozenset[str] = frozenset({"session"})

MAX_JITTER = 0.5


class UnknownDataClassError(ValueError):
    """A data class name that has no TTL; lists the known ones."""

    def __init__(self, name: object, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(f"unknown data class {name!r}: expected one of {', '.join(known)}")


def jittered_ms(seconds: float, jitter: float, rand: Callable[[], float] = random.random) -> int:
    """``seconds * (1 ± jitter)`` in whole milliseconds, never below 1 ms."""
    factor = 1.0 + jitter * (2.0 * rand() - 1.0)
    return max(1, round(seconds * 1000.0 * factor))


@dataclass(frozen=True)
class TtlPolicy:
    """TTL per data class plus the jitter, negative-cache and sliding rules."""

    ttls: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTLS))
    jitter: float = 0.1
    negative_ttl: float = 60.0
    sliding: frozenset[str] = DEFAULT_SLIDING
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, seconds in self.ttls.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ValueError(f"TTL of data class {name!r} must be > 0 seconds, got {seconds!r}")
        if not 0.0 <= self.jitter <= MAX_JITTER:
            raise ValueError(f"jitter must be from 0 to {MAX_JITTER}, got {self.jitter!r}")
        if self.negative_ttl <= 0:
            raise ValueError(f"negative_ttl must be > 0 seconds, got {self.negative_ttl!r}")
        unknown = sorted(set(self.sliding) - set(self.ttls))
        if unknown:
            raise UnknownDataClassError(unknown[0], self.ttls)
        # Freeze the table so a shared policy cannot be changed under another caller.
        object.__setattr__(self, "ttls", MappingProxyType(dict(self.ttls)))

    @classmethod
    def from_settings(
        cls, settings: CacheSettings, *, sliding: frozenset[str] = DEFAULT_SLIDING
    ) -> TtlPolicy:
        """TTLs from ``TTL_<CLASS>``, ``CACHE_TTL_JITTER`` and ``CACHE_NEGATIVE_TTL``."""
        return cls(
            ttls=settings.ttls,
            jitter=settings.ttl_jitter,
            negative_ttl=settings.negative_ttl,
            sliding=sliding,
        )

    @property
    def data_classes(self) -> tuple[str, ...]:
        return tuple(self.ttls)

    def check(self, data_class: str) -> str:
        """``data_class`` if it has a TTL, else UnknownDataClassError."""
        if data_class not in self.ttls:
            raise UnknownDataClassError(data_class, self.ttls)
        return data_class

    def base_seconds(self, data_class: str) -> float:
        """The configured TTL of a class, without jitter."""
        try:
            return self.ttls[data_class]
        except KeyError:
            raise UnknownDataClassError(data_class, self.ttls) from None

    def ttl_ms(self, data_class: str) -> int:
        """A fresh jittered TTL for one write of a value of this class."""
        return jittered_ms(self.base_seconds(data_class), self.jitter, self.rand)

    def negative_ms(self) -> int:
        """A fresh jittered TTL for one not-found marker."""
        return jittered_ms(self.negative_ttl, self.jitter, self.rand)

    def is_sliding(self, data_class: str) -> bool:
        """Whether a hit refreshes the TTL (``GETEX ... PX``) instead of leaving it."""
        return data_class in self.sliding

    def replace(self, **ttls: float) -> TtlPolicy:
        """A copy with some class TTLs changed (tests, benchmarks, per-call tuning)."""
        merged = dict(self.ttls)
        merged.update(ttls)
        return TtlPolicy(merged, self.jitter, self.negative_ttl, self.sliding, self.rand)
