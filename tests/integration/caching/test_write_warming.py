"""Cache warming against real Valkey (standalone and cluster) and the products table."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.storage import Entry, StringStorage
from lambda_app.caching.warming import Warmer
from lambda_app.caching.write_through import WriteThrough
from lambda_app.data.repositories import ProductRepository
from scripts import servers

pytestmark = pytest.mark.integration

KEYS = KeyBuilder("t")



@pytest.fixture
def products(db):
    return ProductRepository(lambda: db)


def by_id(repo):
    return lambda ids: {row["id"]: row for row in repo.get_many(ids)}


def make(repo, n):
    return [repo.create(name=f"P{i}", price=Decimal("9.99") + i, views=i)["id"] for i in range(n)]


def test_warm_stores_rows_the_cache_aside_reader_hits(any_valkey, products):
    ids = make(products, 30)
    report = Warmer(any_valkey, keys=KEYS, batch_size=8).warm(
        "product", "product", ids, by_id(products)
    )

    assert (report.warmed, report.skipped, report.missing, report.batches) == (30, 0, 0, 4)
    assert report.seconds > 0
    reader = CacheAside(any_valkey, keys=KEYS)
    lookup = reader.get("product", KEYS.key("product", ids[3]), lambda: pytest.fail("loaded"))
    assert lookup.hit and lookup.value == products.get(ids[3])  # Decimal, datetime intact
    ttl = any_valkey.pttl(KEYS.key("product", ids[3]))
    assert 3_600_000 * 0.9 <= ttl <= 3_600_000 * 1.1  # the product TTL, jittered


def test_skip_fresh_leaves_fresh_keys_and_rewarms_aging_ones(any_valkey, products):
    ids = make(products, 10)
    warmer = Warmer(any_valkey, keys=KEYS)
    warmer.warm("product", "product", ids, by_id(products))
    for product_id in ids[:3]:  # these have less than half their TTL left
        any_valkey.pexpire(KEYS.key("product", product_id), 60_000)
    loaded = []

    def load(wanted):
        loaded.extend(wanted)
        return by_id(products)(wanted)

    report = warmer.warm("product", "product", ids, load, skip_fresh=True)

    assert (report.warmed, report.skipped) == (3, 7)
    assert sorted(loaded) == sorted(ids[:3])  # fresh keys are not even read from the database
    assert any_valkey.pttl(KEYS.key("product", ids[0])) > 60_000


def test_missing_rows_are_reported(any_valkey, products):
    ids = make(products, 3)
    warmer = Warmer(any_valkey, keys=KEYS)
    report = warmer.warm("product", "product", [*ids, 9_999], by_id(products))
    assert (report.warmed, report.missing) == (3, 1)
    assert any_valkey.exists(KEYS.key("product", 9_999)) == 0


def test_a_write_during_the_warm_wins(any_valkey, products):
    """The warm reads a row, a write commits and refreshes the cache, then the warm's
    fill arrives: it must not put the older row back."""
    ids = make(products, 5)
    writer = WriteThrough(
        any_valkey, resource="product", data_class="product", load=products.get, keys=KEYS
    )

    def load_then_race(wanted):
        rows = by_id(products)(wanted)
        writer.store(ids[2], products.update(ids[2], name="renamed"))
        return rows

    report = Warmer(any_valkey, keys=KEYS).warm("product", "product", ids, load_then_race)

    assert (report.warmed, report.fenced) == (4, 1)
    cached = StringStorage(any_valkey).parse(any_valkey.get(KEYS.key("product", ids[2]))).value
    assert cached["name"] == "renamed"


def test_warm_refuses_bad_arguments(valkey):
    with pytest.raises(ValueError, match="batch_size"):
        Warmer(valkey, batch_size=0)
    with pytest.raises(ValueError, match="fresh_fraction"):
        Warmer(valkey).warm("product", "product", [1], dict, fresh_fraction=0)
    with pytest.raises(ValueError, match="unknown data class"):
        Warmer(valkey).warm("product", "nope", [1], dict)


ALL_IDS = list(range(1, 10_001))  # the seed's 10,000 products


def test_warming_10k_products_against_the_per_key_loop(valkey, seeded_mysql):
    """Prints the figures (no timed assertion): a per-key loop, one SETEX round trip
    per product, against the pipelined, lease-guarded batches, same run, same rows."""
    conn = servers.mysql_connect(seeded_mysql)
    try:
        repo = ProductRepository(lambda: conn)
        storage = StringStorage(valkey)
        warmer = Warmer(valkey, keys=KEYS)

        started = time.perf_counter()
        rows = repo.get_many(ALL_IDS)  # more than one top-N call may return
        for row in rows:
            valkey.setex(KEYS.key("product", row["id"]), 3_600, storage.dumps(Entry(row)))
        loop = time.perf_counter() - started
        valkey.flushall()

        started = time.perf_counter()
        ids = [row["id"] for row in repo.get_many(ALL_IDS)]
        report = warmer.warm("product", "product", ids, by_id(repo))
        batched = time.perf_counter() - started
    finally:
        conn.close()

    print(
        f"\nwarm 10,000 products: per-key loop {loop * 1000:.0f} ms, "
        f"batched {batched * 1000:.0f} ms ({loop / batched:.1f}x); {report}"
    )
    assert report.warmed == 10_000
