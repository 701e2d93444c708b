"""A primary fails over while the API reads and writes through a cluster-mode cache.

Three shards, one replica each; ``CLUSTER FAILOVER`` on the replica of the shard that
holds the most product keys, in the middle of a stream of reads and writes through the
real handler. Expected: no failed read (the cache is a cache: a read that cannot use it
goes to MySQL), writes to the moved slots answered again within 5 s, and no cached
product that differs from its row afterwards. The figures are printed (``-s``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import valkey

from scripts import servers
from tests.integration.api.harness import api_database, api_env, call, environment

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

IDS = range(1, 61)
RECOVERY_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def replicated_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.ValkeyCluster]:
    state_dir: Path = tmp_path_factory.mktemp("replicated")
    try:
        cluster = servers.start_valkey_cluster(state_dir, nodes=3, replicas=1)
    except servers.ServerError as exc:
        pytest.fail(f"replicated Valkey cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        servers.stop(cluster)


def _shards(node: servers.ValkeyServer) -> dict[str, str]:
    """``{primary node id: its replica's "host:port"}`` from CLUSTER NODES."""
    client = valkey.Valkey(host=node.host, port=node.port, decode_responses=True)
    try:
        nodes = client.execute_command("CLUSTER NODES")  # parsed: {"host:port": {...}}
    finally:
        client.close()
    return {
        str(info["master_id"]): address.split("@")[0]
        for address, info in nodes.items()
        if "slave" in str(info["flags"])
    }


def _primary_of(node: servers.ValkeyServer, key: str) -> str:
    client = valkey.Valkey(host=node.host, port=node.port, decode_responses=True)
    try:
        slot = client.execute_command("CLUSTER KEYSLOT", key)
        for start, end, primary, *_ in client.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return str(primary[2])  # the primary's node id
    finally:
        client.close()
    raise AssertionError(f"no primary for slot {slot}")


def test_a_failover_loses_no_read_and_leaves_nothing_stale(
    replicated_cluster, mysql_server
) -> None:
    database = api_database(mysql_server, "failover")
    node = replicated_cluster.nodes[0]
    env = api_env(replicated_cluster, database, CACHE_PREFIX="fo", RATE_LIMIT_REQUESTS="100000",
                  VALKEY_TIMEOUT="0.5", VALKEY_RETRIES="3")
    rng = random.Random(7)
    with environment(env):
        for product in IDS:
            assert call("GET", f"/products/{product}").status == 200
        owners: dict[str, list[int]] = {}
        for product in IDS:
            owners.setdefault(_primary_of(node, f"fo:product:{product}"), []).append(product)
        victim, moved = max(owners.items(), key=lambda item: len(item[1]))
        replica_host, replica_port = _shards(node)[victim].rsplit(":", 1)

        failed_reads, failed_writes, requests = 0, 0, 0
        first_ok_write_after: float | None = None
        promote = valkey.Valkey(host=replica_host, port=int(replica_port))
        began = time.monotonic()
        promoted_at: float | None = None
        while time.monotonic() - began < 8.0:
            if promoted_at is None and time.monotonic() - began > 1.0:
                promote.execute_command("CLUSTER FAILOVER")
                promoted_at = time.monotonic()
            product = rng.choice(list(IDS))
            read = call("GET", f"/products/{product}")
            requests += 1
            failed_reads += read.status != 200
            target = rng.choice(moved)
            price = Decimal(rng.randint(100, 99_999)) / 100
            write = call("PATCH", f"/products/{target}", {"price": str(price)})
            requests += 1
            if write.status != 200:
                failed_writes += 1
            elif promoted_at is not None and first_ok_write_after is None:
                first_ok_write_after = time.monotonic() - promoted_at
        promote.close()
        assert promoted_at is not None
        assert victim not in _shards(node)  # the old primary is a replica now

        stale = []
        for product in IDS:
            cached = call("GET", f"/products/{product}").body
            from lambda_app.services import get_services

            row = get_services().products.repo.get(product)
            if Decimal(str(cached["price"])) != row["price"] or cached["name"] != row["name"]:
                stale.append(product)
    print(f"\nfailover: {requests} requests in 8 s, {failed_reads} failed reads, "
          f"{failed_writes} failed writes, writes to the moved slots answered again "
          f"{first_ok_write_after:.3f} s after CLUSTER FAILOVER, {len(stale)} stale entries")
    assert failed_reads == 0
    assert first_ok_write_after is not None and first_ok_write_after < RECOVERY_LIMIT_S
    assert stale == []
