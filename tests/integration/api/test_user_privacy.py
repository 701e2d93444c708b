"""Personal data: who may read a user record, through the handler with real events.

An operator (SigV4) reads any user; a logged-in user only their own (``/users/me`` or
their own id); a stranger gets 401, and another user's id the 404 an unknown id gets.
The rule holds when the record is already cached: the check runs before the cache.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_app.data.seed import DEMO_PASSWORD
from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


def _token(user_id: int, **options: Any) -> str:
    login = call("POST", "/sessions", {"email": f"user{user_id:05d}@example.com",
                                        "password": DEMO_PASSWORD}, signed=False, **options)
    assert login.status == 201, login.body
    return str(login.body["token"])


def _as(token: str | None, method: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return call(method, path, headers=headers, signed=False)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_stranger_reads_no_user(api, caller, method):
    assert call("GET", "/users/5", api_key=caller).header("X-Cache")  # cached now
    for path in ("/users/5", "/users/1999999999", "/users/me"):
        answer = _as(None, method, path)
        assert answer.status == 401, (path, answer.status)
        assert answer.header("WWW-Authenticate") == "Bearer"
        if method == "GET":
            assert "email" not in answer.raw.decode()


def test_a_user_reads_their_own_record_and_nobody_elses(api, caller):
    token = _token(6)
    mine = _as(token, "GET", "/users/me")
    assert (mine.status, mine.body["id"], mine.body["email"]) == (
        200, 6, "user00006@example.com")
    assert _as(token, "GET", "/users/6").body == mine.body
    # Another user's record: cached or not, existing or not, the same 404.
    assert call("GET", "/users/7", api_key=caller).status == 200  # an operator filled it
    other = _as(token, "GET", "/users/7")
    unknown = _as(token, "GET", "/users/1999999999")
    assert other.status == unknown.status == 404
    assert other.body["error"] == unknown.body["error"] == "not_found"
    assert "user00007" not in other.raw.decode()


def test_an_invalid_token_reads_nothing(api):
    answer = _as("A" * 43, "GET", "/users/me")
    assert (answer.status, answer.body["error"]) == (401, "invalid_session")
    assert _as("A" * 43, "GET", "/users/3").status == 401


def test_an_operator_reads_any_user(api, caller):
    for user_id in (1, 2, 3):
        answer = call("GET", f"/users/{user_id}", api_key=caller)
        assert (answer.status, answer.body["id"]) == (200, user_id)


def test_a_session_does_not_open_operator_routes(api):
    token = _token(8)
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, body in (("PATCH", "/users/8", {"name": "me"}),
                               ("DELETE", "/users/8", None), ("GET", "/cache/stats", None)):
        answer = call(method, path, body, headers=headers, signed=False)
        assert answer.status == 403, (method, path, answer.body)
