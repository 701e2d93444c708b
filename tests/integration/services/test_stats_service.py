"""StatsService against real servers: the dashboard aggregate, cached and stampede-safe."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from lambda_app.data.repositories import UserRepository

pytestmark = pytest.mark.integration


@pytest.fixture
def orders(db):
    """Three recent orders by two users."""
    users = UserRepository(lambda: db)
    ids = [users.create(name=f"U{i}", email=f"u{i}@example.com")["id"] for i in range(2)]
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO orders (user_id, amount) VALUES (%s, %s)",
            [(ids[0], Decimal("10.00")), (ids[0], Decimal("20.00")), (ids[1], Decimal("30.50"))],
        )
    db.commit()


def test_dashboard_is_computed_once_then_served_from_the_cache(any_services, orders, valkey):
    first = any_services.stats.dashboard()
    second = any_services.stats.dashboard()

    assert (first.hit, second.hit) == (False, True)
    assert first.value == second.value
    assert second.value["total_users"] == 2 and second.value["orders"] == 3
    assert second.value["total_sales"] == Decimal("60.50")  # Decimal survives the cache
    assert second.value["avg_order"] == Decimal("20.17")


def test_dashboard_ttl_is_five_minutes(services, orders, valkey):
    services.stats.dashboard()
    ttl = valkey.pttl(services.keys.key("dashboard", "stats"))
    assert 300_000 * 0.9 <= ttl <= 300_000 * 1.1


def test_cold_dashboard_under_concurrent_load_is_computed_once(services, orders):
    """Sixteen requests arrive on a cold cache at once: one runs the query."""
    start = threading.Barrier(16)
    results = []

    def request():
        start.wait()
        results.append(services.stats.dashboard().value)

    threads = [threading.Thread(target=request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 16 and all(value == results[0] for value in results)
    assert services.cache.metrics.snapshot()["dashboard"]["loads"] == 1


def test_refresh_recomputes_now(services, orders, db):
    services.stats.dashboard()
    with db.cursor() as cursor:
        cursor.execute("DELETE FROM orders")
    db.commit()
    assert services.stats.dashboard().value["orders"] == 3  # cached
    assert services.stats.refresh() is True
    assert services.stats.dashboard().value["orders"] == 0
