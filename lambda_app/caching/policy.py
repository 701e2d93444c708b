"""How each data class is cached: its stampede strategy, near cache, storage shape,
negative caching and leases (``ClassPolicy``), the defaults per class, and the plan
``CacheAside`` resolves once per class so a read does no lookups by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.serialization import Codec
from lambda_app.caching.stampede import STRATEGIES, Stampede
from lambda_app.caching.storage import SHAPES, Shape, Storage, StringStorage, make_storage
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.clients.valkey import CacheClient


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


def build_plans(
    ttl: TtlPolicy,
    policies: Mapping[str, ClassPolicy],
    client: CacheClient,
    codec: Codec,
    near: NearCache | TrackingNearCache | None,
) -> dict[str, ClassPlan]:
    """One plan per data class of ``ttl``; a policy for an unknown class is an error."""
    chosen = dict(policies)
    plans = {
        name: _plan(
            name, chosen.pop(name, ClassPolicy()), ttl=ttl, client=client, codec=codec,
            near=near,
        )
        for name in ttl.data_classes
    }
    if chosen:
        raise ValueError(
            f"policy for unknown data class {sorted(chosen)[0]!r}: expected one of "
            + ", ".join(ttl.data_classes)
        )
    return plans


def _plan(
    name: str,
    policy: ClassPolicy,
    *,
    ttl: TtlPolicy,
    client: CacheClient,
    codec: Codec,
    near: NearCache | TrackingNearCache | None,
) -> ClassPlan:
    storage = make_storage(policy.shape, client, codec)
    sliding = ttl.is_sliding(name)
    plan = ClassPlan(name, policy, storage, sliding)
    if policy.lease:
        assert isinstance(storage, StringStorage)  # ClassPolicy checked the shape
        plan.leased = storage
    if not policy.near:
        return plan
    if sliding:
        raise ValueError(
            f"data class {name!r} is sliding (refreshed on each hit) and cannot use the "
            "near cache: a local hit would not refresh its TTL"
        )
    if near is None:
        raise ValueError(f"data class {name!r} asks for the near cache but none was given")
    if isinstance(near, TrackingNearCache):
        plan.tracking = near
        plan.tracked_storage = near.storage(policy.shape, codec)
    else:
        plan.local = near
    return plan
