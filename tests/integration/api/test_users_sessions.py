"""Write-through users (read-after-write is a HIT with the new data) and sessions with a
sliding TTL, through the handler."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


def _user(caller: str, **fields: object) -> Any:
    body = {"name": "Ada", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com", **fields}
    answer = call("POST", "/users", body, api_key=caller)
    assert answer.status == 201, answer.body
    return answer.body


def test_a_read_right_after_each_write_is_a_hit_with_the_new_data(api, caller) -> None:
    user = _user(caller, age=36)
    path = f"/users/{user['id']}"
    read = call("GET", path, api_key=caller)
    assert (read.status, read.header("X-Cache")) == (200, "HIT")
    assert read.body == user

    changed = call("PUT", path, {"name": "Ada L.", "age": None}, api_key=caller)
    assert changed.status == 200
    read = call("GET", path, api_key=caller)
    assert read.header("X-Cache") == "HIT"
    assert (read.body["name"], read.body["age"], read.body["email"]) == (
        "Ada L.", None, user["email"],
    )

    assert call("DELETE", path, api_key=caller).status == 204
    gone = call("GET", path, api_key=caller)
    assert gone.status == 404
    assert gone.body["error"] == "not_found"


def test_emails_are_normalised_and_unique(api, caller) -> None:
    user = _user(caller)
    assert user["email"] == user["email"].lower()
    again = call("POST", "/users", {"name": "Twin", "email": user["email"].upper()},
                 api_key=caller)
    assert again.status == 409
    assert again.body["error"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "email": "no-at-sign"}, "email"),
        ({"name": "x", "email": "a@b.c", "age": -1}, "age"),
        ({"name": "x", "email": "a@b.c", "age": "30"}, "age"),
        ({"name": "x", "email": "a@b.c", "age": True}, "age"),
        ({"email": "a@b.c"}, "name"),
        ({"name": "line\nbreak", "email": "a@b.c"}, "name"),
    ],
)
def test_invalid_users_are_400_naming_the_field(api, caller, body, field) -> None:
    answer = call("POST", "/users", body, api_key=caller)
    assert answer.status == 400
    assert answer.body["message"].startswith(f"{field}: ")


def test_session_lifecycle(api, caller) -> None:
    user = _user(caller)
    created = call("POST", "/sessions", {"user_id": user["id"]}, api_key=caller)
    assert created.status == 201
    assert created.body["expires_in"] == 1800
    token = created.body["token"]

    seen = call("GET", f"/sessions/{token}", api_key=caller)
    assert seen.status == 200
    assert seen.body["user_id"] == user["id"]
    assert seen.body["expires_in"] >= 1795  # slid back to the full lifetime
    assert seen.header("X-Cache") == "HIT"  # written through at creation
    assert "token" not in seen.body

    assert call("DELETE", f"/sessions/{token}", api_key=caller).status == 204
    after = call("GET", f"/sessions/{token}", api_key=caller)
    assert after.status == 401
    assert after.body["error"] == "invalid_session"
    assert call("DELETE", f"/sessions/{token}", api_key=caller).status == 401


@pytest.mark.parametrize("token", ["a" * 43, "short", "app:session:x", "%2A" * 20, "-" * 200])
def test_unknown_or_malformed_tokens_are_401(api, caller, token) -> None:
    answer = call("GET", f"/sessions/{token}", api_key=caller)
    assert answer.status == 401
    assert answer.body["error"] == "invalid_session"


def test_a_session_for_an_unknown_user_is_404(api, caller) -> None:
    answer = call("POST", "/sessions", {"user_id": 2_000_000_000}, api_key=caller)
    assert answer.status == 404
    assert answer.body["error"] == "not_found"


@pytest.mark.parametrize("user_id", [0, -1, "1", 1.0, True, None, 2**31])
def test_a_session_needs_a_positive_integer_user_id(api, caller, user_id) -> None:
    answer = call("POST", "/sessions", {"user_id": user_id}, api_key=caller)
    assert answer.status == 400
    assert answer.body["message"].startswith("user_id: ")
