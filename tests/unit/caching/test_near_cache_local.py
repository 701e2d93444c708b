"""The pub/sub near cache's local LRU: bound, age, generations (no server)."""

from __future__ import annotations

import pytest

from lambda_app.caching.near_cache import NearCache
from lambda_app.caching.storage import Entry

pytestmark = pytest.mark.unit


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bounded_lru():
    near = NearCache(max_size=2)
    g = near.generation()
    near.put("a", Entry(1), 60_000, g)
    near.put("b", Entry(2), 60_000, g)
    assert near.get("a") == Entry(1)  # a is now most recent
    near.put("c", Entry(3), 60_000, g)
    assert near.get("b") is None
    assert near.get("a") == Entry(1)
    assert len(near) == 2


def test_entries_expire_at_ttl_or_max_age():
    clock = Clock()
    near = NearCache(max_age_s=10, clock=clock)
    near.put("short", Entry(1), 2_000, 0)
    near.put("long", Entry(2), 3_600_000, 0)
    clock.now = 2.0
    assert near.get("short") is None
    assert near.get("long") == Entry(2)
    clock.now = 10.0
    assert near.get("long") is None


def test_invalidation_refuses_a_racing_fill():
    near = NearCache()
    generation = near.generation()  # a reader starts reading Valkey...
    near.invalidate(["k"])  # ...a writer's invalidation arrives meanwhile...
    assert not near.put("k", Entry("old"), 60_000, generation)  # ...so the old value stays out
    assert near.get("k") is None
    assert near.put("k", Entry("new"), 60_000, near.generation())


def test_invalidate_and_clear():
    near = NearCache()
    near.put("a", Entry(1), 60_000, 0)
    near.put("b", Entry(2), 60_000, 0)
    assert near.invalidate(["a", "zzz"]) == 1
    near.clear()
    assert len(near) == 0


def test_validation():
    with pytest.raises(ValueError, match="max_size"):
        NearCache(max_size=0)
    with pytest.raises(ValueError, match="max_age_s"):
        NearCache(max_age_s=0)
