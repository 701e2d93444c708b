"""Write-through users (read-after-write is a HIT with the new data), passwords that are
never shown, and log-in sessions with a sliding TTL carried as bearer tokens, through the
handler."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


PASSWORD = "correct horse battery staple"


def _user(caller: str, **fields: object) -> Any:
    body = {"name": "Ada", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD, **fields}
    answer = call("POST", "/users", body, api_key=caller)
    assert answer.status == 201, answer.body
    return answer.body


def test_a_read_right_after_each_write_is_a_hit_with_the_new_data(api, caller) -> None:
    user = _user(caller, age=36)
    path = f"/users/{user['id']}"
    read = call("GET", path, api_key=caller)
    assert (read.status, read.header("X-Cache")) == (200, "HIT")
    assert read.body == user

    changed = call("PATCH", path, {"name": "Ada L.", "age": None}, api_key=caller)
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
    again = call("POST", "/users", {"name": "Twin", "email": user["email"].upper(),
                                     "password": PASSWORD}, api_key=caller)
    assert again.status == 409
    assert again.body["error"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "email": "no-at-sign", "password": PASSWORD}, "email"),
        ({"name": "x", "email": "a@b.c", "age": -1, "password": PASSWORD}, "age"),
        ({"name": "x", "email": "a@b.c", "age": "30", "password": PASSWORD}, "age"),
        ({"name": "x", "email": "a@b.c", "age": True, "password": PASSWORD}, "age"),
        ({"email": "a@b.c", "password": PASSWORD}, "name"),
        ({"name": "line\nbreak", "email": "a@b.c", "password": PASSWORD}, "name"),
        ({"name": "x", "email": "a@b.c", "password": "too short"}, "password"),
        ({"name": "x", "email": "a@b.c"}, "password"),
    ],
)
def test_invalid_users_are_400_naming_the_field(api, caller, body, field) -> None:
    answer = call("POST", "/users", body, api_key=caller)
    assert answer.status == 400
    assert answer.body["message"].startswith(f"{field}: ")


def _login(email: str, password: str = PASSWORD, **options: Any) -> Any:
    return call("POST", "/sessions", {"email": email, "password": password}, signed=False,
                **options)


def _bearer(method: str, token: str | None, **options: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return call(method, "/sessions/current", headers=headers, signed=False, **options)


def test_session_lifecycle(api, caller) -> None:
    user = _user(caller)
    created = _login(user["email"])
    assert created.status == 201, created.body
    assert set(created.body) == {"token", "expires_in", "user_id"}
    assert (created.body["expires_in"], created.body["user_id"]) == (1800, user["id"])
    token = created.body["token"]

    seen = _bearer("GET", token)
    assert (seen.status, seen.body["user_id"]) == (200, user["id"])
    assert seen.body["expires_in"] == 1800
    assert seen.body["last_active"].endswith("Z")

    assert _bearer("DELETE", token).status == 204
    for method in ("GET", "DELETE"):
        after = _bearer(method, token)
        assert (after.status, after.header("WWW-Authenticate")) == (401, "Bearer")


def test_the_password_is_never_returned_and_can_be_changed(api, caller) -> None:
    user = _user(caller)
    path = f"/users/{user['id']}"
    assert "password" not in user and "password_hash" not in user
    assert "password" not in call("GET", path, api_key=caller).body
    new = "a different long password"
    assert call("PATCH", path, {"password": new}, api_key=caller).status == 200
    assert _login(user["email"]).status == 401
    assert _login(user["email"], new).status == 201


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(api, caller) -> None:
    user = _user(caller)
    wrong = _login(user["email"], "not the password at all")
    unknown = _login(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body == {"error": "invalid_credentials",
                                          "message": "email or password is wrong"}
    assert wrong.header("WWW-Authenticate") == unknown.header("WWW-Authenticate") == "Bearer"


def test_seeded_users_log_in_with_the_demo_password(api) -> None:
    from lambda_app.data.seed import DEMO_PASSWORD

    answer = _login("user00001@example.com", DEMO_PASSWORD)
    assert (answer.status, answer.body["user_id"]) == (201, 1)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 43, "Bearer short",
     "Bearer app:session:x", "Bearer " + "*" * 20],
)
def test_missing_unknown_or_malformed_tokens_are_401(api, header) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = call("GET", "/sessions/current", headers=headers, signed=False)
    assert (answer.status, answer.header("WWW-Authenticate")) == (401, "Bearer")
    assert answer.body["error"] == "invalid_session"
