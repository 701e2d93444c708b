"""Stampede protection: 200 concurrent callers on a hot key as it expires.

The driver is ``bench.stampede.run_hot_key``, the same one the benchmark reports from.
Each run seeds a hot product key with a short TTL, then 200 threads keep reading it
until after its expiry. Database loads are counted by a loader wrapping the real
repository query (plus a fixed delay standing in for an expensive query, so the
recompute window is wide enough to matter):

* unprotected: every caller that reads after expiry loads (about 200);
* lock: exactly one caller loads, the others wait and re-read;
* XFetch: one caller recomputes shortly *before* expiry while the rest still hit; a
  handful at most.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.stampede import CALLERS, CountingLoader, run_hot_key
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.stampede import RecomputeLock
from lambda_app.data.repositories import ProductRepository

pytestmark = pytest.mark.integration



def test_200_callers_on_an_expiring_hot_key(any_valkey, db):
    repo = ProductRepository(lambda: db)
    row = repo.create(name="hot", price=Decimal("42.00"))
    loads = {}
    for strategy in ("none", "lock", "xfetch"):
        loader = CountingLoader(lambda: repo.get(row["id"]))
        key = KeyBuilder("app").key("product", row["id"], strategy)
        run = run_hot_key(any_valkey, strategy, loader, key)
        loads[strategy] = run.loads
        assert run.bad == [], f"{strategy}: {len(run.bad)} failed or wrong reads"
    print(f"\ndatabase loads by 200 callers across expiry: {loads}")
    assert loads["none"] >= CALLERS // 2  # about 200: everyone who read after expiry
    assert loads["lock"] == 1
    assert 1 <= loads["xfetch"] <= 10  # a handful, and usually before expiry
    assert loads["xfetch"] * 10 <= loads["none"]


def test_lock_waiter_falls_back_when_the_holder_never_finishes(any_valkey):
    cache = CacheAside(any_valkey, lock=RecomputeLock(any_valkey, wait_ms=100, poll_ms=5))
    key = KeyBuilder("app").key("product", 1)
    any_valkey.set(cache.keys.companion(key, "lock"), b"someone-else", px=60_000)
    look = cache.get("product", key, lambda: {"id": 1})
    assert look == ({"id": 1}, False, True, "loader")
    stats = cache.stats()["classes"]["product"]
    assert (stats["lock_waits"], stats["lock_fallbacks"], stats["loads"]) == (1, 1, 1)


def test_lock_waiter_takes_over_when_the_holder_gave_up(any_valkey):
    cache = CacheAside(any_valkey, lock=RecomputeLock(any_valkey, wait_ms=5_000, poll_ms=5))
    key = KeyBuilder("app").key("product", 2)
    lock_key = cache.keys.companion(key, "lock")
    any_valkey.set(lock_key, b"failed-holder", px=50)  # its loader raised; the lease runs out
    look = cache.get("product", key, lambda: {"id": 2})
    assert look.source == "loader"
    assert any_valkey.exists(lock_key) == 0  # released after the load
    assert cache.stats()["classes"]["product"]["lock_fallbacks"] == 0


def test_lock_release_is_compare_and_delete(any_valkey):
    lock = RecomputeLock(any_valkey)
    token = lock.acquire("app:lock:{x}")
    assert token is not None
    assert lock.acquire("app:lock:{x}") is None
    assert not lock.release("app:lock:{x}", "not-my-token")
    assert lock.release("app:lock:{x}", token)
    assert lock.acquire("app:lock:{x}") is not None
    assert 0 < any_valkey.pttl("app:lock:{x}") <= 5_000  # the lease bounds a crashed holder


def test_xfetch_recomputes_before_expiry(any_valkey):
    """With a huge beta every hit is 'close to expiry': the caller recomputes."""
    cache = CacheAside(any_valkey, xfetch_beta=1e9)
    key = KeyBuilder("app").key("price", 1)
    prices = iter([Decimal("1.00"), Decimal("2.00")])
    cache.get("price", key, lambda: next(prices))
    look = cache.get("price", key, lambda: next(prices))
    assert look == (Decimal("2.00"), False, True, "loader")
    assert cache.stats()["classes"]["price"]["early_recomputes"] == 1
    steady = CacheAside(any_valkey)  # beta 1: far from expiry, a plain hit
    assert steady.get("price", key, lambda: Decimal("3.00")).hit
