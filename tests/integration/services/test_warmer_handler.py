"""The scheduled warmer Lambda handler, invoked as EventBridge would, on real servers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from lambda_app.data.repositories import ProductRepository
from lambda_app.handlers import warmer
from lambda_app.services import get_services, reset_services
from lambda_app.services.errors import BadRequest
from lambda_app.settings import get_settings
from scripts import servers

pytestmark = pytest.mark.integration

SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-21T04:00:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/warm-cache"],
    "detail": {},
}


@dataclass
class Context:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str = "warmer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:warmer"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"


@pytest.fixture
def environment(monkeypatch, valkey, db, valkey_server, mysql_server):
    """The process environment a deployed warmer gets, pointing at the test servers."""
    for name, value in servers.env_for(valkey_server, mysql_server).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_services()
    yield ProductRepository(lambda: db)
    reset_services()
    get_settings.cache_clear()


def seed(repo, n):
    return [
        repo.create(name=f"P{i}", price=Decimal(3), views=i, sales=n - i)["id"] for i in range(n)
    ]


def test_scheduled_event_warms_the_top_100_by_default(environment):
    ids = seed(environment, 120)
    services = get_services()
    services.client.unlink(*(services.keys.key("product", i) for i in ids))

    result = warmer.handler(SCHEDULED, Context())

    assert result["warmed"] == 100 and result["products_top"] == 100
    assert result["seconds"] > 0
    assert services.products.get(ids[-1]).hit  # the most viewed
    assert not services.products.get(ids[0]).hit  # outside the top 100


def test_rule_input_chooses_n_ranking_and_dashboard(environment):
    ids = seed(environment, 10)
    services = get_services()
    services.client.unlink(*(services.keys.key("product", i) for i in ids))

    result = warmer.handler(
        {"products_top": 3, "by": "sales", "skip_fresh": False, "dashboard": True}, Context()
    )

    assert (result["warmed"], result["by"], result["dashboard_refreshed"]) == (3, "sales", True)
    assert services.products.get(ids[0]).hit  # most sold
    assert services.stats.dashboard().hit


def test_skip_fresh_is_the_schedule_default(environment):
    for i in range(5):  # through the service: written through, so cached and fresh
        get_services().products.create({"name": f"P{i}", "price": Decimal(3)})
    result = warmer.handler(SCHEDULED, Context())
    assert (result["warmed"], result["skipped"]) == (0, 5)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"products_top": 0}, "products_top"),
        ({"products_top": "many"}, "products_top"),
        ({"by": "price"}, "by"),
        ({"skip_fresh": "yes"}, "skip_fresh"),
        ({"detail": {"dashboard": 1}}, "dashboard"),
        ([], "event"),
    ],
)
def test_bad_rule_input_fails_with_a_clear_message(environment, event, message):
    with pytest.raises(BadRequest, match=message):
        warmer.handler(event, Context())


def test_each_scheduled_run_purges_expired_sessions(environment, db):
    from lambda_app.data.repositories import UserRepository

    user = UserRepository(lambda: db).create(name="Old", email="old-sessions@example.com")
    services = get_services()
    live = services.sessions.create(user["id"])["token"]
    stale = services.sessions.create(user["id"])["token"]
    from lambda_app.caching.sessions import digest

    with db.cursor() as cursor:  # logged in 13 hours ago: past the 12 h absolute lifetime
        cursor.execute("UPDATE sessions SET created_at = NOW(6) - INTERVAL 13 HOUR, "
                       "last_active = NOW(6) WHERE token = %s", (digest(stale),))
    db.commit()

    result = warmer.handler(SCHEDULED, Context())

    assert result["sessions_purged"] == 1
    with db.cursor() as cursor:
        cursor.execute("SELECT token FROM sessions WHERE user_id = %s", (user["id"],))
        assert [row["token"] for row in cursor.fetchall()] == [digest(live)]
