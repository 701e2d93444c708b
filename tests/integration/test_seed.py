"""The seed: deterministic, skewed like real traffic, replaces rather than appends."""

from __future__ import annotations

import pytest

from lambda_app.data.repositories import ProductRepository, StatsRepository
from lambda_app.data.seed import (
    ORDERS,
    PRODUCTS,
    USERS,
    content_checksum,
    generate,
    seed,
)
from scripts import servers

pytestmark = pytest.mark.integration

SMALL = {"products": 300, "users": 50, "orders": 800}


def _counts(conn) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cursor:
        for table in ("products", "users", "orders", "sessions"):
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
            counts[table] = cursor.fetchone()["n"]
    conn.commit()
    return counts


def test_generation_is_a_pure_function_of_the_seed():
    assert generate().checksum() == generate().checksum()
    assert generate(seed=7, **SMALL).checksum() != generate(seed=8, **SMALL).checksum()


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="products"):
        generate(products=0)


def test_seeding_twice_replaces_the_data_with_the_same_content(db):
    first = seed(db, progress=False, **SMALL)
    first_content = content_checksum(db)
    with db.cursor() as cursor:
        cursor.execute("UPDATE products SET views = views + 1 WHERE id = 1")
    db.commit()
    second = seed(db, progress=False, **SMALL)
    assert first.checksum == second.checksum
    assert content_checksum(db) == first_content
    assert _counts(db) == {"products": 300, "users": 50, "orders": 800, "sessions": 0}


def test_progress_goes_to_stderr_and_can_be_disabled(db, capsys):
    seed(db, progress=False, **SMALL)
    assert capsys.readouterr().err == ""
    seed(db, progress=True, **SMALL)
    assert "seed" in capsys.readouterr().err


def test_full_seed_has_the_documented_counts(seeded_mysql):
    conn = servers.mysql_connect(seeded_mysql)
    try:
        assert _counts(conn) == {"products": PRODUCTS, "users": USERS, "orders": ORDERS,
                                 "sessions": 0}
    finally:
        conn.close()


def test_top_one_percent_of_products_hold_a_large_share_of_views(seeded_mysql):
    conn = servers.mysql_connect(seeded_mysql)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT SUM(views) AS total FROM products")
            row = cursor.fetchone()
        assert row is not None
        total = row["total"]
        top = ProductRepository(lambda: conn).top(PRODUCTS // 100)
        share = sum(row["views"] for row in top) / total
        top_sales = ProductRepository(lambda: conn).top(PRODUCTS // 100, by="sales")
        ids = [row["id"] for row in top]
    finally:
        conn.close()
    print(f"top 1% of products hold {share:.0%} of views")
    assert share > 0.4
    assert len({row["id"] for row in top_sales} & set(ids)) > len(ids) // 2  # sales follow views
    assert ids != sorted(ids)  # popularity is not the insertion order


def test_the_last_24_hours_hold_orders(seeded_mysql):
    conn = servers.mysql_connect(seeded_mysql)
    try:
        day = StatsRepository(lambda: conn).dashboard(24)
        month = StatsRepository(lambda: conn).dashboard(24 * 31)
    finally:
        conn.close()
    assert 0 < day["orders"] < ORDERS // 10
    assert month["orders"] == ORDERS
    assert day["total_sales"] > 0 and day["avg_order"] is not None
