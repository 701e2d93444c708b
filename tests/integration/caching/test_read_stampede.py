"""Stampede protection: 200 concurrent callers on a hot key as it expires.

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

import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from lambda_app.caching.cache_aside import DEFAULT_POLICIES, CacheAside, ClassPolicy
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.stampede import RecomputeLock
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.data.repositories import ProductRepository

pytestmark = pytest.mark.integration

CALLERS = 200
TTL_S = 3.0
LOAD_S = 0.2  # the "expensive query"
AFTER_EXPIRY_S = 0.5
PAUSE_S = 0.05  # between one caller's reads: steady traffic, not a busy loop



class CountingLoader:
    """Loads the product through the real repository; counts calls across threads."""

    def __init__(self, repo: ProductRepository, product_id: int) -> None:
        self.repo = repo
        self.product_id = product_id
        self.calls = 0
        self._count = threading.Lock()
        self._db = threading.Lock()  # one PyMySQL connection is not thread-safe

    def __call__(self) -> Any:
        with self._count:
            self.calls += 1
        time.sleep(LOAD_S)
        with self._db:
            return self.repo.get(self.product_id)


def run_hot_key(client: Any, strategy: str, loader: CountingLoader, key: str) -> tuple[int, int]:
    """Seed the key, then 200 callers read it across its expiry; (loads, bad reads)."""
    policies = dict(DEFAULT_POLICIES)
    policies["product"] = ClassPolicy(stampede=strategy)  # type: ignore[arg-type]
    cache = CacheAside(
        client,
        ttl=TtlPolicy(jitter=0).replace(product=TTL_S),
        policies=policies,
        lock=RecomputeLock(client, wait_ms=5_000),
    )
    expected = cache.get("product", key, loader).value  # the seed load
    seeded_at = time.monotonic()
    loader.calls = 0
    deadline = seeded_at + TTL_S + AFTER_EXPIRY_S
    bad: list[Any] = []
    start = threading.Barrier(CALLERS)

    def caller() -> None:
        start.wait()
        while time.monotonic() < deadline:
            try:
                value = cache.get("product", key, loader).value
            except Exception as exc:  # counted, reported below
                bad.append(exc)
            else:
                if value != expected:
                    bad.append(value)
            time.sleep(PAUSE_S)

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return loader.calls, len(bad)


def test_200_callers_on_an_expiring_hot_key(any_valkey, db):
    row = ProductRepository(lambda: db).create(name="hot", price=Decimal("42.00"))
    loads = {}
    for strategy in ("none", "lock", "xfetch"):
        loader = CountingLoader(ProductRepository(lambda: db), row["id"])
        key = KeyBuilder("app").key("product", row["id"], strategy)
        loads[strategy], bad = run_hot_key(any_valkey, strategy, loader, key)
        assert bad == 0, f"{strategy}: {bad} failed or wrong reads"
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
