"""Logins that cannot be brute-forced, through the handler on real servers.

Three exact budgets (``lambda_app.caching.login_limit``): every attempt per address,
failures per address and account, failures per account; every spelling of an email that
reaches one account counts for that account; a cache outage keeps them; a password or
email change ends the sessions opened before it; and a caller over its request limit
costs no token lookup.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.api.harness import call, environment
from tests.integration.api.test_outages import cache_down  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"


def _user(caller: str, email: str | None = None) -> Any:
    body = {"name": "Eve", "email": email or f"eve-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD}
    answer = call("POST", "/users", body, api_key=caller)
    assert answer.status == 201, answer.body
    return answer.body


def _login(email: str, password: str = PASSWORD, source_ip: str = "203.0.113.1") -> Any:
    return call("POST", "/sessions", {"email": email, "password": password}, signed=False,
                source_ip=source_ip)


@pytest.fixture
def budgets(api):
    """Small budgets: 6 attempts per address, 2 failures per address and account, 4 per
    account, in a window far longer than the test."""
    with environment({**api, "LOGIN_RATE_LIMIT_REQUESTS": "6",
                      "LOGIN_ADDRESS_ACCOUNT_FAILURES": "2", "LOGIN_ACCOUNT_FAILURES": "4",
                      "LOGIN_RATE_LIMIT_WINDOW": "600"}):
        yield


def test_every_attempt_from_one_address_counts(budgets, caller):
    emails = [_user(caller)["email"] for _ in range(3)]
    statuses = [_login(emails[n % 3], source_ip="203.0.113.2").status for n in range(7)]
    assert statuses == [201] * 6 + [429]


def test_one_stranger_cannot_lock_the_owner_out(budgets, caller):
    email = _user(caller)["email"]
    stranger = [_login(email, WRONG, "198.51.100.66").status for _ in range(10)]
    assert stranger == [401, 401] + [429] * 8
    assert _login(email, source_ip="192.0.2.1").status == 201  # the owner, elsewhere


def test_a_distributed_guess_is_capped_per_account(budgets, caller):
    email = _user(caller)["email"]
    guesses = [_login(email, WRONG, f"198.51.100.{n}").status for n in range(1, 7)]
    assert guesses == [401] * 4 + [429] * 2  # 4 failures per account, from anywhere
    assert _login(email, WRONG, "198.51.100.99").status == 429


def test_right_passwords_do_not_use_up_the_failure_budgets(budgets, caller):
    email = _user(caller)["email"]
    for n in range(5):  # five successes from five addresses, then the budgets are whole
        assert _login(email, source_ip=f"192.0.2.{50 + n}").status == 201
    assert [_login(email, WRONG, "192.0.2.60").status for _ in range(3)] == [401, 401, 429]


def test_every_spelling_of_an_email_is_the_same_account(budgets, caller):
    user = _user(caller, f"ada-{uuid.uuid4().hex[:6]}@example.com")
    local = user["email"].split("@")[0]
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in local.upper())
    spellings = [user["email"].upper(), f"{full_width}@example.com", user["email"].title()]
    statuses = [_login(spelling, WRONG, "198.51.100.200").status for spelling in spellings]
    assert statuses == [401, 401, 429]
    # the full-width spelling logs in, as the same user, from another address
    same = _login(f"{full_width}@ＥＸＡＭＰＬＥ.com", source_ip="192.0.2.77")
    assert (same.status, same.body["user_id"]) == (201, user["id"])


@pytest.mark.parametrize("email", ["ada\u200b@example.com", "ada@exam\u202eple.com",
                                   "a\u00adda@example.com", "ada\u0007@example.com"])
def test_invisible_characters_in_an_email_are_400(api, caller, email):
    created = call("POST", "/users", {"name": "x", "email": email, "password": PASSWORD},
                   api_key=caller)
    assert (created.status, created.body["error"]) == (400, "validation_error")
    assert created.body["message"].startswith("email: ")
    login = _login(email)
    assert (login.status, login.body["error"]) == (400, "validation_error")


def test_an_email_is_stored_in_its_normal_form(api, caller):
    tag = uuid.uuid4().hex[:6]
    user = _user(caller, f"ＺＯＥ-{tag}@Example.COM")
    assert user["email"] == f"zoe-{tag}@example.com"
    twin = call("POST", "/users", {"name": "x", "email": f"zoe-{tag}@example.com",
                                   "password": PASSWORD}, api_key=caller)
    assert twin.status == 409


def test_logins_stay_limited_while_the_cache_is_down(cache_down, caller):  # noqa: F811
    email = "user00011@example.com"
    with environment({"LOGIN_ADDRESS_ACCOUNT_FAILURES": "2"}):
        statuses = [_login(email, WRONG, "198.51.100.150").status for _ in range(4)]
    assert statuses == [401, 401, 429, 429]


def test_a_password_change_ends_every_session_opened_before_it(api, caller):
    user = _user(caller)
    tokens = [_login(user["email"], source_ip=f"192.0.2.{n}").body["token"] for n in (1, 2)]
    path = f"/users/{user['id']}"
    assert call("PATCH", path, {"name": "renamed"}, api_key=caller).status == 200
    assert _current(tokens[0]).status == 200  # a name change ends nothing
    assert call("PATCH", path, {"password": "a brand new password"}, api_key=caller).status == 200
    assert [_current(token).status for token in tokens] == [401, 401]
    fresh = _login(user["email"], "a brand new password").body["token"]
    assert _current(fresh).status == 200


def test_an_email_change_ends_every_session_opened_before_it(api, caller):
    user = _user(caller)
    token = _login(user["email"]).body["token"]
    moved = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    same = call("PUT", f"/users/{user['id']}", {"name": "Eve", "email": user["email"]},
                api_key=caller)
    assert same.status == 200 and _current(token).status == 200  # the same email: kept
    assert call("PATCH", f"/users/{user['id']}", {"email": moved},
                api_key=caller).status == 200
    assert _current(token).status == 401


def _current(token: str) -> Any:
    return call("GET", "/sessions/current", headers={"Authorization": f"Bearer {token}"},
                signed=False, source_ip="192.0.2.200")


def test_a_caller_over_its_limit_costs_no_token_lookup(api, valkey, db):
    """The address's budget is checked before the bearer token: random well-formed
    tokens from a limited address run no SELECT and leave no key in Valkey."""
    with environment({**api, "RATE_LIMIT_REQUESTS": "3"}):
        for _ in range(3):
            call("GET", "/products/1", signed=False, source_ip="198.51.100.250")
        keys_before = set(valkey.scan_iter(match="apitest:*"))
        selects_before = _selects(db)
        statuses = {
            call("GET", "/products/1", signed=False, source_ip="198.51.100.250",
                 headers={"Authorization": f"Bearer {uuid.uuid4().hex[:11]}{'A' * 32}"}).status
            for _ in range(50)
        }
        assert statuses == {429}
        assert _selects(db) - selects_before <= 2  # this test's own status queries
        assert set(valkey.scan_iter(match="apitest:*")) == keys_before


def test_invalid_tokens_within_the_limit_create_no_cache_entries(api, valkey):
    before = {key for key in valkey.scan_iter(match="apitest:*") if b":rl:" not in key}
    for _ in range(5):
        answer = _current(f"{uuid.uuid4().hex[:11]}{'B' * 32}")
        assert answer.status == 401
    after = {key for key in valkey.scan_iter(match="apitest:*") if b":rl:" not in key}
    assert after == before


def _selects(db: Any) -> int:
    with db.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
        row = cursor.fetchone()
    db.commit()
    return int(row["Value"] if isinstance(row, dict) else row[1])
