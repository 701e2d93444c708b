"""Repositories against a real MySQL-compatible server: types, errors, read-after-write."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from lambda_app.data.errors import DuplicateEmail, DuplicateToken, InvalidValue, NotFound
from lambda_app.data.repositories import (
    ProductRepository,
    SessionRepository,
    StatsRepository,
    UserRepository,
)
from scripts import servers

pytestmark = pytest.mark.integration

R = TypeVar("R")


def repository(cls: type[R]) -> Any:
    """A fixture giving a ``cls`` repository on the test's (emptied) database."""

    @pytest.fixture
    def fixture(db: Any) -> R:
        return cls(lambda: db)

    return fixture


products = repository(ProductRepository)
users = repository(UserRepository)
sessions = repository(SessionRepository)
stats = repository(StatsRepository)


# --------------------------------------------------------------------------- products


def test_create_returns_the_stored_row_with_database_types(products):
    row = products.create(name="Kettle", price=Decimal("19.90"), description="steel")
    assert row == {
        "id": row["id"], "name": "Kettle", "price": Decimal("19.90"), "description": "steel",
        "views": 0, "sales": 0, "updated_at": row["updated_at"],
    }
    assert isinstance(row["price"], Decimal)
    assert isinstance(row["updated_at"], datetime)
    assert products.get(row["id"]) == row


def test_update_returns_the_full_row_and_moves_updated_at(products):
    created = products.create(name="Mug", price=Decimal("5.00"))
    updated = products.update(created["id"], price=Decimal("6.50"), views=10)
    assert updated is not None
    assert updated["name"] == "Mug"  # untouched columns come back too
    assert updated["price"] == Decimal("6.50")
    assert updated["views"] == 10
    assert updated["updated_at"] > created["updated_at"]
    assert products.get(created["id"]) == updated


def test_update_of_a_missing_product_returns_none(products):
    assert products.update(999_999, name="ghost") is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id": 5}, "products.id"),
        ({"updated_at": "2020-01-01"}, "products.updated_at"),
        ({"price": 1.1}, "products.price"),  # floats lose cents
        ({"price": Decimal("1.001")}, "products.price"),
        ({"price": Decimal("-1")}, "products.price"),
        ({"views": -3}, "products.views"),
        ({"name": ""}, "products.name"),
        ({"name": "x" * 201}, "products.name"),
    ],
)
def test_update_refuses_unknown_columns_and_bad_values(products, fields, field):
    created = products.create(name="Lamp", price=Decimal("30"))
    with pytest.raises(InvalidValue, match=field.replace(".", r"\.")):
        products.update(created["id"], **fields)
    assert products.get(created["id"]) == created


def test_get_many_keeps_the_order_asked_and_skips_missing(products):
    a, b, c = (products.create(name=n, price=Decimal("1")) for n in ("a", "b", "c"))
    rows = products.get_many([c["id"], 424242, a["id"], c["id"]])
    assert [row["name"] for row in rows] == ["c", "a"]
    assert products.get_many([]) == []
    assert products.get(b["id"])["name"] == "b"


def test_top_orders_by_views_or_sales(products):
    products.create(name="popular", price=Decimal("1"), views=100, sales=1)
    products.create(name="seller", price=Decimal("1"), views=10, sales=50)
    products.create(name="quiet", price=Decimal("1"), views=1, sales=0)
    assert [row["name"] for row in products.top(2)] == ["popular", "seller"]
    assert [row["name"] for row in products.top(1, by="sales")] == ["seller"]
    assert products.top(0) == []
    with pytest.raises(InvalidValue, match="by"):
        products.top(3, by="price")


def test_top_ids_are_the_ids_of_top_in_the_same_order(products):
    for views, sales in ((5, 1), (9, 0), (5, 7), (0, 3)):  # a tie on views: id breaks it
        products.create(name="p", price=Decimal("1"), views=views, sales=sales)
    for by in ("views", "sales"):
        for n in (0, 1, 3, 10):
            assert products.top_ids(n, by) == [row["id"] for row in products.top(n, by)]
    with pytest.raises(InvalidValue, match="by"):
        products.top_ids(3, by="price")
    with pytest.raises(InvalidValue, match="n"):
        products.top_ids(-1)


def test_delete_reports_whether_a_row_went(products):
    row = products.create(name="gone", price=Decimal("2"))
    assert products.delete(row["id"]) is True
    assert products.delete(row["id"]) is False
    assert products.get(row["id"]) is None


def test_reads_see_commits_from_other_connections(products, mysql_server):
    row = products.create(name="fresh", price=Decimal("1"))
    assert products.get(row["id"])["name"] == "fresh"  # opens a snapshot on this connection
    other = ProductRepository(lambda: conn)
    conn = servers.mysql_connect(mysql_server)
    try:
        other.update(row["id"], name="renamed")
    finally:
        conn.close()
    assert products.get(row["id"])["name"] == "renamed"


# --------------------------------------------------------------------------- users


def test_user_round_trip(users):
    row = users.create(name="Ana", email="ana@example.com", age=31)
    assert row["age"] == 31 and isinstance(row["created_at"], datetime)
    assert users.get(row["id"]) == row
    assert users.create(name="Ben", email="ben@example.com")["age"] is None


def test_duplicate_email_is_a_domain_error_even_in_other_case(users):
    users.create(name="Ana", email="ana@example.com")
    with pytest.raises(DuplicateEmail) as raised:
        users.create(name="Ana 2", email="ANA@example.com")
    assert raised.value.email == "ana@example.com"  # the stored (normal) form
    other = users.create(name="Ben", email="ben@example.com")
    with pytest.raises(DuplicateEmail):
        users.update(other["id"], email="ana@example.com")
    assert users.get(other["id"])["email"] == "ben@example.com"


def test_user_update_returns_the_full_row(users):
    row = users.create(name="Ana", email="ana@example.com", age=30)
    updated = users.update(row["id"], age=None, name="Ana B")
    assert updated == {**row, "age": None, "name": "Ana B"}
    assert users.update(row["id"]) == updated  # nothing to change: the row as stored
    assert users.update(987_654, name="x") is None


def test_user_fields_are_validated(users):
    with pytest.raises(InvalidValue, match=r"users\.email"):
        users.create(name="x", email="not-an-email")
    with pytest.raises(InvalidValue, match=r"users\.age"):
        users.create(name="x", email="x@example.com", age=-1)
    row = users.create(name="x", email="x@example.com")
    with pytest.raises(InvalidValue, match=r"users\.id"):
        users.update(row["id"], id=2)


def test_deleting_a_user_deletes_their_sessions(users, sessions):
    user = users.create(name="Ana", email="ana@example.com")
    token = secrets.token_urlsafe(32)
    sessions.create(token, user["id"])
    assert users.delete(user["id"]) is True
    assert sessions.get(token) is None
    assert users.delete(user["id"]) is False


# --------------------------------------------------------------------------- sessions


def test_tokens_for_user_lists_only_that_users_sessions(users, sessions):
    ada = users.create(name="Ada", email="ada@example.com")["id"]
    bob = users.create(name="Bob", email="bob@example.com")["id"]
    mine = sorted(secrets.token_hex(32) for _ in range(3))
    for token in mine:
        sessions.create(token, ada)
    sessions.create(secrets.token_hex(32), bob)
    assert sessions.tokens_for_user(ada) == mine
    assert sessions.tokens_for_user(424242) == []
    users.delete(ada)  # ON DELETE CASCADE
    assert sessions.tokens_for_user(ada) == []
    with pytest.raises(InvalidValue, match="user_id"):
        sessions.tokens_for_user("1")  # type: ignore[arg-type]


def test_session_lifecycle(users, sessions):
    user = users.create(name="Ana", email="ana@example.com")
    token = secrets.token_hex(32)  # 64 characters, the column's width
    row = sessions.create(token, user["id"])
    assert row["token"] == token and row["user_id"] == user["id"]
    assert isinstance(row["last_active"], datetime)
    assert sessions.get(token) == row
    later = row["last_active"].replace(microsecond=123456) + timedelta(minutes=5)
    assert sessions.touch(token, later) is True
    assert sessions.get(token)["last_active"] == later
    assert sessions.touch(token, later) is True  # same value again: still found
    assert sessions.delete(token) is True
    assert sessions.touch(token, later) is False
    assert sessions.delete(token) is False


def test_session_tokens_are_case_sensitive(users, sessions):
    user = users.create(name="Ana", email="ana@example.com")
    sessions.create("AbCdEfGh12345678", user["id"])
    assert sessions.get("abcdefgh12345678") is None


def test_session_for_unknown_user_is_not_found(sessions):
    with pytest.raises(NotFound, match="user"):
        sessions.create(secrets.token_urlsafe(16), 424242)


def test_duplicate_or_malformed_tokens_are_refused(users, sessions):
    user = users.create(name="Ana", email="ana@example.com")
    token = secrets.token_urlsafe(16)
    sessions.create(token, user["id"])
    with pytest.raises(DuplicateToken):
        sessions.create(token, user["id"])
    for bad in ("", "x" * 65, "has space", "semi;colon"):
        with pytest.raises(InvalidValue, match=r"sessions\.token") as raised:
            sessions.get(bad)
        assert bad not in str(raised.value) or bad == ""  # tokens are not echoed


# --------------------------------------------------------------------------- stats


def test_dashboard_of_no_orders(stats):
    assert stats.dashboard() == {
        "total_users": 0, "total_sales": Decimal("0.00"), "avg_order": None, "orders": 0,
        "window_hours": 24,
    }


def test_dashboard_counts_only_the_window(db, stats):
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO orders (user_id, amount, created_at) "
            "VALUES (%s, %s, NOW(6) - INTERVAL %s HOUR)",
            [(1, Decimal("10.00"), 1), (1, Decimal("20.00"), 2), (2, Decimal("30.01"), 23),
             (3, Decimal("999.00"), 25)],
        )
    db.commit()
    assert stats.dashboard() == {
        "total_users": 2, "total_sales": Decimal("60.01"), "avg_order": Decimal("20.00"),
        "orders": 3, "window_hours": 24,
    }
    assert stats.dashboard(hours=48)["orders"] == 4
    with pytest.raises(InvalidValue, match="hours"):
        stats.dashboard(hours=0)
