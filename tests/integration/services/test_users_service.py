"""UserService against real servers: write-through CRUD, read-after-write is a HIT."""

from __future__ import annotations

import pytest

from lambda_app.caching.sessions import digest
from lambda_app.services.errors import BadRequest, Conflict, InvalidSession, NotFound, Unavailable

pytestmark = pytest.mark.integration


def ada(services, email="ada@example.com"):
    return services.users.create({"name": "Ada", "email": email, "age": 36})


def test_read_after_create_is_a_hit_with_the_full_row(any_services):
    row = ada(any_services)
    lookup = any_services.users.get(row["id"])
    assert (lookup.hit, lookup.source) == (True, "cache")
    assert lookup.value == row and lookup.value["created_at"] is not None


def test_read_after_partial_update_is_a_hit_with_the_whole_new_row(any_services):
    row = ada(any_services)
    updated = any_services.users.update(row["id"], {"age": 37})
    lookup = any_services.users.get(row["id"])
    assert lookup.hit and lookup.value == updated == {**row, "age": 37}


def test_delete_then_get_is_not_found_and_cached_as_such(any_services):
    row = ada(any_services)
    any_services.users.delete(row["id"])
    assert any_services.users.get(row["id"]).found is False
    assert any_services.users.get(row["id"]).hit
    with pytest.raises(NotFound, match="user"):
        any_services.users.delete(row["id"])
    with pytest.raises(NotFound):
        any_services.users.update(row["id"], {"name": "Ghost"})


def test_deleting_a_user_drops_their_cached_sessions_at_once(any_services):
    """The cascade deletes the session rows; their cache entries go with the user too,
    instead of staying valid until a write-back notices (up to a minute)."""
    row, other = ada(any_services), ada(any_services, "other@example.com")
    theirs = [any_services.sessions.create(row["id"])["token"] for _ in range(2)]
    kept = any_services.sessions.create(other["id"])["token"]
    for token in (*theirs, kept):
        assert any_services.sessions.validate(token)["hit"]  # cached, write-back marked
    store = any_services.sessions.store

    any_services.users.delete(row["id"])

    for token in theirs:
        assert any_services.client.get(store.cache.key(digest(token))) is None
        with pytest.raises(InvalidSession):
            any_services.sessions.validate(token)
    assert any_services.sessions.validate(kept)["hit"]


def test_duplicate_email_is_a_conflict_and_leaves_the_cache_alone(services):
    first = ada(services)
    other = ada(services, "other@example.com")
    with pytest.raises(Conflict, match="already exists"):
        ada(services, "ADA@example.com")  # unique regardless of case
    with pytest.raises(Conflict):
        services.users.update(other["id"], {"email": "ada@example.com"})
    assert services.users.get(other["id"]).value == other
    assert services.users.get(first["id"]).value == first


def test_delete_bumps_the_users_group(services):
    row = ada(services)
    before = services.groups.version("user", row["id"])
    services.users.delete(row["id"])
    assert services.groups.version("user", row["id"]) > before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "Ada"}, "email"),
        ({"name": "Ada", "email": "not-an-email"}, "users.email"),
        ({"name": "Ada", "email": "a@b.c", "age": -1}, "users.age"),
        ({"name": "Ada", "email": "a@b.c", "role": "admin"}, "role"),
    ],
)
def test_bad_input_is_a_bad_request(services, values, field):
    with pytest.raises(BadRequest) as caught:
        services.users.create(values)
    assert caught.value.field == field


def test_database_down_on_update_is_unavailable_and_the_cache_keeps_the_true_row(
    services, db_down_services
):
    row = ada(services)
    with pytest.raises(Unavailable):
        db_down_services.users.update(row["id"], {"name": "Changed"})
    lookup = services.users.get(row["id"])
    assert lookup.hit and lookup.value == row
