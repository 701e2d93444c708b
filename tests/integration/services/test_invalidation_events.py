"""Event-driven invalidation end to end: every write publishes; subscribers apply it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from lambda_app.caching.events import InvalidationSubscriber
from lambda_app.caching.near_cache import NearCache
from lambda_app.services import build_services
from tests.integration.services.conftest import settings_for

pytestmark = pytest.mark.integration


def eventually(condition: Callable[[], bool], within: float = 5.0) -> bool:
    """Poll until ``condition()`` holds (pub/sub is asynchronous); False if it never does."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_every_write_publishes_the_keys_it_invalidated(services, valkey):
    received: list[str] = []
    seen = threading.Event()

    def on_keys(keys: list[str]) -> None:
        received.extend(keys)
        seen.set()

    subscriber = InvalidationSubscriber(
        services.client, on_keys, channel=services.keys.channel("invalidation")
    ).start()
    try:
        assert subscriber.ready.wait(5)
        user = services.users.create({"name": "Ada", "email": "ada@example.com"})
        product = services.products.create({"name": "P", "price": Decimal(1)})
        services.products.update(product["id"], {"name": "Q"})
        services.users.delete(user["id"])
        expected = {
            services.keys.key("user", user["id"]),
            services.keys.key("product", product["id"]),
        }
        assert eventually(lambda: expected <= set(received))
    finally:
        subscriber.stop()


def test_a_write_on_one_instance_drops_the_near_copy_of_another(
    valkey, db, valkey_server, mysql_server
):
    """Two app instances with a near cache for products: B's update reaches A's L1."""
    settings = settings_for(valkey_server, mysql_server, NEAR_CACHE_CLASSES="product")
    a, b = build_services(settings), build_services(settings)
    try:
        near = a.cache.near
        assert isinstance(near, NearCache) and near.subscriber is not None
        assert near.subscriber.ready.wait(5)
        row = b.products.create({"name": "Lamp", "price": Decimal("20.00")})
        # B's create also publishes an invalidation, which may reach A just after A's
        # first read filled its L1 and drop it once; A serves from memory after that.
        assert eventually(lambda: a.products.get(row["id"]).source == "near")

        b.products.update(row["id"], {"price": Decimal("25.00")})

        assert eventually(lambda: a.products.get(row["id"]).value["price"] == Decimal("25.00"))
    finally:
        a.close()
        b.close()
