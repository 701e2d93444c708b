"""SessionService against real servers: create, validate (sliding), delete."""

from __future__ import annotations

import pytest

from lambda_app.caching.sessions import digest
from lambda_app.services.errors import BadRequest, InvalidSession, NotFound, Unavailable

pytestmark = pytest.mark.integration


@pytest.fixture
def user(any_services):
    return any_services.users.create({"name": "Ada", "email": "ada@example.com"})


def test_session_lifecycle(any_services, user):
    created = any_services.sessions.create(user["id"])
    assert created["expires_in"] == 1800 and len(created["token"]) == 43

    session = any_services.sessions.validate(created["token"])
    assert (session["user_id"], session["expires_in"], session["hit"]) == (user["id"], 1800, True)
    assert session["token"] == created["token"]

    any_services.sessions.delete(created["token"])
    with pytest.raises(InvalidSession, match=r"^invalid session$"):
        any_services.sessions.validate(created["token"])
    with pytest.raises(InvalidSession):
        any_services.sessions.delete(created["token"])


@pytest.mark.parametrize("token", ["", "nope", "A" * 43, "A" * 200])
def test_unknown_or_malformed_tokens_are_invalid(services, token):
    with pytest.raises(InvalidSession, match=r"^invalid session$"):
        services.sessions.validate(token)


def test_session_for_an_unknown_user_is_not_found(services):
    with pytest.raises(NotFound, match="user"):
        services.sessions.create(999)


def test_bad_user_id_is_a_bad_request(services):
    with pytest.raises(BadRequest) as caught:
        services.sessions.create(0)
    assert caught.value.field == "user_id"


def test_sessions_are_counted_in_the_stats(services, user):
    token = services.sessions.create(user["id"])["token"]
    for _ in range(3):
        services.sessions.validate(token)
    counts = services.cache_admin.stats()["classes"]["session"]
    assert counts["hits"] == 3


def test_a_cached_session_stays_valid_while_the_database_is_down(services, db_down_services):
    """The once-a-minute write-back fails, the request does not; a cold session cannot
    be checked, so it is Unavailable rather than "invalid"."""
    user = services.users.create({"name": "Ada", "email": "ada@example.com"})
    token = services.sessions.create(user["id"])["token"]

    session = db_down_services.sessions.validate(token)  # hit; its write-back fails

    assert (session["user_id"], session["hit"]) == (user["id"], True)
    services.client.delete(db_down_services.sessions.store.cache.key(digest(token)))
    with pytest.raises(Unavailable):
        db_down_services.sessions.validate(token)
