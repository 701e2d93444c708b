"""Invalidation against real servers: UNLINK, SCAN+UNLINK on every primary, group versions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from valkey.cluster import ValkeyCluster

from lambda_app.caching.invalidation import (
    CLUSTERSCAN_SINCE,
    GroupVersions,
    Invalidator,
    cluster_scan,
    has_clusterscan,
    primaries,
    scan_primaries,
)
from lambda_app.caching.keys import KeyBuilder
from lambda_app.clients.valkey import server_version

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("t")



def fill(client, keys, ttl_ms=60_000):
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, b"x", px=ttl_ms)
    pipe.execute()


def test_delete_unlinks_keys_in_any_slot_and_announces(any_valkey):
    announced: list[object] = []
    inv = Invalidator(any_valkey, announce=announced.append)
    keys = [KEYS.key("product", i) for i in range(50)]
    fill(any_valkey, keys)

    assert inv.delete(*keys, KEYS.key("product", 999)) == 50
    assert any_valkey.exists(*keys) == 0
    assert announced == [(*keys, KEYS.key("product", 999))]


def test_delete_matching_removes_only_the_pattern_on_every_primary(any_valkey):
    users = [KEYS.key("user", i, "orders") for i in range(1_500)]
    others = [KEYS.key("product", i) for i in range(200)] + [KeyBuilder("other").key("user", 1)]
    fill(any_valkey, users + others)
    if isinstance(any_valkey, ValkeyCluster):  # the keys really are spread over the nodes
        assert all(int(node.dbsize()) > 0 for node in primaries(any_valkey))
    batches: list[Sequence[str]] = []
    inv = Invalidator(any_valkey, announce=batches.append, batch_size=100)

    assert inv.delete_matching(KEYS.pattern("user")) == 1_500

    assert any_valkey.exists(*users) == 0
    assert any_valkey.exists(*others) == len(others)
    assert all(len(batch) <= 100 for batch in batches)
    assert sum(len(batch) for batch in batches) == 1_500


def test_delete_matching_never_sends_keys(any_valkey):
    fill(any_valkey, [KEYS.key("user", i) for i in range(20)])
    for node in primaries(any_valkey):
        node.config_resetstat()

    Invalidator(any_valkey).delete_matching("t:user:*")

    walked_with = "cmdstat_clusterscan" if has_clusterscan(any_valkey) else "cmdstat_scan"
    stats = [node.info("commandstats") for node in primaries(any_valkey)]
    assert all("cmdstat_keys" not in node for node in stats)
    assert any(walked_with in node for node in stats)


@pytest.mark.cluster
def test_a_9_1_cluster_is_walked_with_one_clusterscan_cursor(cluster_client):
    if server_version(cluster_client) < CLUSTERSCAN_SINCE:
        pytest.skip(f"Valkey {server_version(cluster_client)} has no CLUSTERSCAN")
    names = [KEYS.key("price", i) for i in range(500)]
    fill(cluster_client, names)
    fill(cluster_client, [KEYS.key("user", i) for i in range(50)])
    for node in primaries(cluster_client):
        node.config_resetstat()

    batches = list(cluster_scan(cluster_client, "t:price:*", 100))

    assert sorted(key for batch in batches for key in batch) == sorted(names)
    assert sorted(key for batch in batches for key in batch) == sorted(
        key for batch in scan_primaries(cluster_client, "t:price:*", 100) for key in batch
    )
    nodes = primaries(cluster_client)
    calls = [node.info("commandstats").get("cmdstat_clusterscan", {}) for node in nodes]
    assert sum(call.get("calls", 0) for call in calls) >= 1
    assert sum(1 for call in calls if call.get("calls")) == len(nodes)  # every owner asked
    # Each call went to the owner of the cursor's slot: no node answered MOVED.
    assert all("errorstat_MOVED" not in node.info("errorstats") for node in nodes)


def test_scan_batches_are_bounded(any_valkey):
    fill(any_valkey, [KEYS.key("price", i) for i in range(300)])
    batches = list(scan_primaries(any_valkey, "t:price:*", 64))
    assert sum(map(len, batches)) == 300
    assert max(map(len, batches)) <= 64


@pytest.mark.parametrize("pattern", ["", "*", "**", "?*"])
def test_delete_matching_refuses_match_everything(valkey, pattern):
    with pytest.raises(ValueError, match="pattern must name some keys"):
        Invalidator(valkey).delete_matching(pattern)


def test_group_invalidation_is_one_command_and_hides_every_key(any_valkey):
    groups = GroupVersions(any_valkey, KEYS)
    orders = groups.key("user", 42, "orders")
    profile = groups.key("user", 42, "profile")
    other = groups.key("user", 43, "orders")
    fill(any_valkey, [orders, profile, other])
    assert orders.startswith("t:user:{42}:v")

    new_version = groups.invalidate("user", 42)

    assert groups.key("user", 42, "orders") == f"t:user:{{42}}:v{new_version}.orders"
    assert groups.key("user", 42, "orders") != orders
    assert any_valkey.get(groups.key("user", 42, "profile")) is None
    # the other group is untouched; the old entries remain only until their TTL
    assert groups.key("user", 43, "orders") == other
    assert any_valkey.pttl(orders) > 0


def test_lost_group_version_comes_back_higher(any_valkey):
    groups = GroupVersions(any_valkey, KEYS)
    before = groups.invalidate("user", 7)
    any_valkey.delete(groups.version_key("user", 7))  # evicted, expired or flushed
    assert groups.version("user", 7) > before


def test_group_version_key_shares_the_slot_of_the_group(cluster_client):
    groups = GroupVersions(cluster_client, KEYS)
    slot = cluster_client.keyslot(groups.version_key("user", 42))
    assert cluster_client.keyslot(groups.key("user", 42, "orders")) == slot


def test_bad_batch_size_is_refused(valkey):
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        Invalidator(valkey, batch_size=0)
