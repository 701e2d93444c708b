"""Near cache (L1): two independent app instances; a write through one reaches the other.

Both invalidation paths are exercised against real servers (standalone and cluster):
pub/sub messages (every instance drops its own copy) and RESP3 client tracking (the
server pushes invalidations to valkey-py's client-side cache).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
import valkey
from valkey.cluster import ValkeyCluster

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy

pytestmark = pytest.mark.integration

keys = KeyBuilder("app")
WRITES = 10
GIVE_UP_S = 5.0  # only so a broken invalidation fails instead of hanging
REQUIRED_MS = 100.0


@pytest.fixture
def backend(any_valkey: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """(the ``any_valkey`` client, factory of further independent clients with options)."""
    if isinstance(any_valkey, ValkeyCluster):
        node = request.getfixturevalue("valkey_cluster").nodes[0]
        make, host, port = ValkeyCluster, node.host, node.port
    else:
        server = request.getfixturevalue("valkey_server")
        make, host, port = valkey.Valkey, server.host, server.port
    opened: list[Any] = []

    def factory(**options: Any) -> Any:
        opened.append(make(host=host, port=port, socket_timeout=2, **options))
        return opened[-1]

    yield any_valkey, factory
    for extra in opened:
        extra.close()


def near_policies() -> dict[str, ClassPolicy]:
    policies = dict(DEFAULT_POLICIES)
    policies["product"] = ClassPolicy(stampede="lock", near=True)
    return policies


def pubsub_instance(client: Any) -> CacheAside:
    near = NearCache(max_size=100)
    subscriber = near.listen(client, keys.channel("invalidation"))
    assert subscriber.ready.wait(5), "subscriber did not subscribe"
    return CacheAside(client, near=near, policies=near_policies())


def tracking_instance(client: Any, tracking_client: Any) -> CacheAside:
    return CacheAside(client, near=TrackingNearCache(tracking_client), policies=near_policies())


def refuse() -> Any:
    raise AssertionError("the loader must not run: the value is in Valkey")


def measure_propagation(writer: CacheAside, reader: CacheAside, key: str) -> list[float]:
    """Write through one instance; ms until the other's read (L1 first) sees it."""
    delays = []
    for version in range(1, WRITES + 1):
        # The reader holds the previous version in its L1...
        assert reader.get("product", key, refuse).value == {"v": version - 1}
        assert reader.get("product", key, refuse).source == "near"
        writer.set("product", key, {"v": version})
        written = time.perf_counter()
        while reader.get("product", key, refuse).value != {"v": version}:
            assert time.perf_counter() - written < GIVE_UP_S, "invalidation never arrived"
            time.sleep(0.0005)
        delays.append((time.perf_counter() - written) * 1000)
    return delays


@pytest.mark.parametrize("mode", ["pubsub", "tracking"])
def test_write_through_one_instance_is_seen_by_the_others_l1(backend, mode):
    client, connect = backend
    if mode == "pubsub":
        writer = pubsub_instance(client)
        reader = pubsub_instance(connect())
    else:
        writer = tracking_instance(client, connect(protocol=3, cache_enabled=True))
        reader = tracking_instance(connect(), connect(protocol=3, cache_enabled=True))
    try:
        key = keys.key("product", 77)
        first = reader.get("product", key, lambda: {"v": 0})
        assert first.source == "loader"
        delays = measure_propagation(writer, reader, key)
        print(f"\n{mode}: L1 invalidation seen after ms: {[round(d, 2) for d in delays]}")
        assert statistics.median(delays) < REQUIRED_MS
        stats = reader.stats()["classes"]["product"]
        assert stats["near_hits"] >= WRITES
    finally:
        writer.close()
        reader.close()


def test_delete_drops_every_instances_copy(backend):
    client, connect = backend
    a, b = pubsub_instance(client), pubsub_instance(connect())
    try:
        key = keys.key("product", 5)
        for instance in (a, b):
            instance.get("product", key, lambda: {"v": 1})
            assert instance.get("product", key, refuse).source == "near"
        a.delete([key])
        deadline = time.perf_counter() + GIVE_UP_S
        while b.near is not None and b.near.get(key) is not None:  # type: ignore[union-attr]
            assert time.perf_counter() < deadline
            time.sleep(0.001)
        assert b.get("product", key, lambda: {"v": 2}) == ({"v": 2}, False, True, "loader")
    finally:
        a.close()
        b.close()


def test_near_cache_is_bounded_and_optional(backend):
    client, _ = backend
    cache = pubsub_instance(client)
    try:
        assert cache.near is not None
        for i in range(150):
            cache.get("product", keys.key("product", i), functools.partial(dict, id=i))
        assert len(cache.near) == 100  # type: ignore[arg-type]
        # Classes without near=True never touch the L1.
        cache.get("user", keys.key("user", 1), lambda: {"id": 1})
        assert cache.get("user", keys.key("user", 1), refuse).source == "cache"
    finally:
        cache.close()


def test_tracking_requires_a_resp3_caching_client(backend):
    client, _ = backend
    with pytest.raises(ValueError, match="protocol=3 and cache_enabled=True"):
        TrackingNearCache(client)


def test_sliding_classes_cannot_be_near_cached(backend):
    client, _ = backend
    policies = dict(DEFAULT_POLICIES)
    policies["session"] = ClassPolicy(near=True)
    with pytest.raises(ValueError, match="'session' is sliding"):
        CacheAside(client, near=NearCache(), policies=policies)


def test_from_settings_turns_the_near_cache_on_per_class(backend):
    from lambda_app.settings import Settings

    client, connect = backend
    settings = Settings.from_env({"NEAR_CACHE_CLASSES": "product,config", "NEAR_CACHE_SIZE": "8",
                                  "CACHE_PREFIX": "shop"}).cache
    cache = CacheAside.from_settings(settings, client)
    try:
        assert isinstance(cache.near, NearCache)
        assert cache.near.max_size == 8
        assert cache.near.channel == "shop:channel:invalidation"
        assert cache.policy("product").near and cache.policy("config").near
        assert not cache.policy("user").near
        assert cache.policy("product").stampede == "lock"  # the rest of the default policy
    finally:
        cache.close()
    tracked = CacheAside.from_settings(
        settings, client, near_client=connect(protocol=3, cache_enabled=True)
    )
    assert isinstance(tracked.near, TrackingNearCache)
    off = CacheAside.from_settings(Settings.from_env({}).cache, client)
    assert off.near is None and not off.policy("product").near
