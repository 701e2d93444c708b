"""Write-through with leases against real Valkey (standalone and cluster) and MariaDB/MySQL."""

from __future__ import annotations

import random
import threading
import time

import pytest
import valkey as valkey_py

from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.storage import StringStorage
from lambda_app.caching.write_through import WriteThrough
from lambda_app.clients.mysql import Database
from lambda_app.data.repositories import UserRepository
from scripts import servers

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("t")



@pytest.fixture
def users(db):
    return UserRepository(lambda: db)


def write_through(client, repo, **options):
    return WriteThrough(
        client, resource="user", data_class="user", load=repo.get, keys=KEYS, **options
    )


def cached(wt, id):
    raw = wt.client.get(wt.key(id))
    return None if raw is None else StringStorage(wt.client).parse(raw).value


def test_read_after_create_is_a_hit_with_the_database_row(any_valkey, users):
    wt = write_through(any_valkey, users)
    row = users.create(name="Ada", email="ada@example.com", age=36)

    assert wt.store(row["id"], row) == row
    lookup = wt.get(row["id"])

    assert lookup.hit and lookup.source == "cache"
    assert lookup.value == users.get(row["id"])  # created_at included, exact types


def test_partial_update_caches_the_full_row(any_valkey, users):
    """Caching the request's fields would lose the row's email, age and created_at."""
    wt = write_through(any_valkey, users)
    row = users.create(name="Ada", email="ada@example.com", age=36)
    wt.store(row["id"], row)

    updated = users.update(row["id"], name="Ada L.")
    wt.store(row["id"], updated)

    assert cached(wt, row["id"]) == {**row, "name": "Ada L."}
    assert wt.get(row["id"]).hit


def test_miss_loads_once_then_hits_and_counts(any_valkey, users):
    wt = write_through(any_valkey, users)
    row = users.create(name="Bob", email="bob@example.com")

    first, second = wt.get(row["id"]), wt.get(row["id"])

    assert (first.hit, first.source, second.hit) == (False, "loader", True)
    assert first.value == second.value == row
    stats = wt.metrics.snapshot()["user"]
    assert (stats["hits"], stats["misses"], stats["loads"]) == (1, 1, 1)


def test_unknown_id_is_negatively_cached_until_created(any_valkey, users):
    wt = write_through(any_valkey, users)
    assert wt.get(999).found is False
    assert wt.get(999) == (None, True, False, "cache")


def test_delete_invalidates(any_valkey, users):
    wt = write_through(any_valkey, users)
    row = users.create(name="Cy", email="cy@example.com")
    wt.store(row["id"], row)

    users.delete(row["id"])
    wt.invalidate(row["id"])

    assert wt.get(row["id"]).value is None


def test_stale_fill_after_a_concurrent_write_is_refused(any_valkey, users):
    """Reader misses and reads the old row; a writer commits and stores before the
    reader's fill. Without leases the reader would cache the old row for a TTL."""
    row = users.create(name="Old", email="old@example.com")
    fired = threading.Event()

    def load_then_race(user_id):
        loaded = users.get(user_id)
        if not fired.is_set():  # the reader's load: a write lands right after it
            fired.set()
            writer.store(user_id, users.update(user_id, name="New"))
        return loaded

    reader = write_through(any_valkey, users)
    reader._load = load_then_race
    writer = write_through(any_valkey, users)

    lookup = reader.get(row["id"])

    assert lookup.value["name"] == "Old"  # the reader answers with what it read...
    assert cached(reader, row["id"])["name"] == "New"  # ...but did not cache it
    assert reader.get(row["id"]).value["name"] == "New"


def test_writers_finishing_out_of_order_leave_the_newest_row(any_valkey, users):
    wt = write_through(any_valkey, users)
    row = users.create(name="v0", email="v@example.com")
    first = users.update(row["id"], name="v1")
    second = users.update(row["id"], name="v2")

    wt.store(row["id"], second)
    wt.store(row["id"], first)  # the slower writer's cache step runs last

    assert cached(wt, row["id"])["name"] == "v2"


def test_value_and_lease_share_a_slot(cluster_client, users):
    wt = write_through(cluster_client, users)
    key = wt.key(42)
    assert cluster_client.keyslot(key) == cluster_client.keyslot(wt.lease_key(key))


def test_failed_invalidation_after_commit_is_retried_before_the_next_read(
    tmp_path, users, mysql_server
):
    """The cache goes away between the commit and the cache step, then comes back
    still holding the old value (a partition): the next read must not serve it."""
    server = servers.start_valkey(tmp_path)
    client = valkey_py.Valkey(
        host=server.host, port=server.port, socket_timeout=0.3, socket_connect_timeout=0.3
    )
    try:
        wt = write_through(client, users)
        row = users.create(name="Before", email="p@example.com")
        wt.store(row["id"], row)
        client.save()  # the old value survives the restart below
        servers.stop(server)

        updated = users.update(row["id"], name="After")
        assert wt.store(row["id"], updated) == updated  # the write itself succeeded
        assert len(wt.pending) == 1

        server = servers.start_valkey(tmp_path, port=server.port)
        assert cached(wt, row["id"])["name"] == "Before"  # the stale value is back...

        lookup = wt.get(row["id"])

        assert lookup.value["name"] == "After"  # ...but the pending delete ran first
        assert len(wt.pending) == 0
        assert cached(wt, row["id"])["name"] == "After"
    finally:
        client.close()
        servers.stop(server)


def stale_keys(wt, repo, ids):
    """Keys whose cached row differs from the database row (absent keys are fine)."""
    stale = {}
    for user_id in ids:
        in_cache, in_db = cached(wt, user_id), repo.get(user_id)
        if in_cache is not None and in_cache != in_db:
            stale[user_id] = (in_cache["name"], in_db["name"])
    return stale


def hammer(client, wt, repo, ids, *, threads=8, ops=1_000, rounds=10):
    """``threads`` x ``ops`` interleaved reads (45 %), writes (50 %) and evictions (5 %),
    in ``rounds``; all threads stop at the end of each round and the keys are checked
    then (more chances to catch a stale fill than one check at the very end).

    Random pauses between a database read and the cache step that follows widen the
    race windows (a GC pause, a slow network), so the races really happen.
    """
    local = threading.local()
    barrier = threading.Barrier(threads + 1)
    errors, stale = [], []

    def pause():
        if local.rng.random() < 0.3:
            time.sleep(local.rng.random() * 0.003)

    def load(user_id):
        row = repo.get(user_id)
        pause()
        return row

    wt._load = load

    def worker(seed):
        rng = local.rng = random.Random(seed)
        try:
            for step in range(ops):
                user_id = rng.choice(ids)
                roll = rng.random()
                if roll < 0.45:
                    wt.get(user_id)
                elif roll < 0.95:
                    row = repo.update(user_id, name=f"t{seed}-{step}")
                    pause()
                    wt.store(user_id, row)
                else:  # an eviction, at the worst moment for someone else
                    client.delete(wt.key(user_id))
                if (step + 1) % (ops // rounds) == 0:
                    barrier.wait()  # round over: the main thread checks
                    barrier.wait()  # checked: next round
        except Exception as exc:  # surfaced by the test, with the thread's seed
            errors.append((seed, exc))
            barrier.abort()

    workers = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in workers:
        thread.start()
    for _ in range(rounds):
        barrier.wait()
        stale.append(stale_keys(wt, repo, ids))
        barrier.wait()
    for thread in workers:
        thread.join()
    return errors, stale


def test_concurrent_readers_and_writers_never_leave_the_cache_older(any_valkey, db, app_settings):
    """8 threads x 1,000 interleaved reads, writes and evictions on 20 keys; whenever they
    stop, every cached key equals its database row."""
    bootstrap = UserRepository(lambda: db)
    ids = [bootstrap.create(name="u0", email=f"u{i}@example.com")["id"] for i in range(20)]
    database = Database(app_settings.db)  # one connection per thread
    repo = UserRepository(database)
    wt = write_through(any_valkey, repo)

    errors, stale = hammer(any_valkey, wt, repo, ids)

    assert errors == []
    assert stale == [{}] * 10
    assert sum(cached(wt, user_id) is not None for user_id in ids) > 0
