"""How each data class is cached: its stampede strategy, near cache, storage shape,
negative caching and leases (``ClassPolicy``), the defaults per class, and the plan
``CacheAside`` resolves once per class so a read does no lookups by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.stampede import STRATEGIES, Stampede
from lambda_app.caching.storage import SHAPES, Shape, Storage, StringStorage


@dataclass(frozen=True)
class ClassPolicy:
    """How one data class is cached (its TTL lives in :class:`~ttl.TtlPolicy`)."""

    stampede: Stampede = "none"
    near: bool = False
    shape: Shape = "string"
    #: Cache "not found" answers (the negative-caching marker).
    negative: bool = True
    #: Fill misses under the write side's leases (:mod:`leases`): for classes whose rows
    #: writers change and invalidate, so a fill cannot outlive a concurrent write.
    lease: bool = False

    def __post_init__(self) -> None:
        if self.stampede not in STRATEGIES:
            raise ValueError(
                f"unknown stampede strategy {self.stampede!r}: expected one of "
                + ", ".join(STRATEGIES)
            )
        if self.shape not in SHAPES:
            raise ValueError(
                f"unknown storage shape {self.shape!r}: expected one of {', '.join(SHAPES)}"
            )
        if self.lease and self.shape != "string":
            raise ValueError(
                "lease=True needs shape='string': leased fills and the writers that "
                "invalidate them use the string layout"
            )


DEFAULT_POLICIES: Mapping[str, ClassPolicy] = MappingProxyType(
    {
        "static": ClassPolicy(stampede="xfetch"),
        "product": ClassPolicy(stampede="lock", lease=True),
        "user": ClassPolicy(stampede="lock", lease=True),
        "price": ClassPolicy(stampede="xfetch"),
        "session": ClassPolicy(stampede="none", lease=True),
        "config": ClassPolicy(stampede="xfetch"),
        "query": ClassPolicy(stampede="xfetch"),
        "dashboard": ClassPolicy(stampede="xfetch"),
    }
)


@dataclass
class ClassPlan:
    """Everything resolved once per data class, so ``get`` does no lookups by name."""

    name: str
    policy: ClassPolicy
    storage: Storage
    sliding: bool
    local: NearCache | None = None
    tracking: TrackingNearCache | None = None
    tracked_storage: Storage | None = field(default=None, repr=False)
    #: Leased classes: the storage as strings (fills go through :class:`Leases`).
    leased: StringStorage | None = field(default=None, repr=False)
