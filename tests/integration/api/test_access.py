"""Who may call what, through the handler with real HTTP API 2.0 events.

The handler enforces the access rule on its own, whatever route key API Gateway matched:
an operator route without a verified IAM principal is a 403 even when it arrived on a
catch-all ``$default`` route. Rate limits count verified callers only.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_app.api.access import OPERATOR, caller_kind
from tests.integration.api.harness import call, event, invoke

pytestmark = pytest.mark.integration

#: Every operator operation of the contract, with a body it would accept.
OPERATOR_CALLS: list[tuple[str, str, Any]] = [
    ("POST", "/products", {"name": "x", "price": 1}),
    ("PUT", "/products/1", {"name": "x", "price": 1}),
    ("PATCH", "/products/1", {"name": "x"}),
    ("DELETE", "/products/2000000000", None),
    ("POST", "/users", {"name": "x", "email": "op@example.com", "password": "x" * 12}),
    ("PUT", "/users/1", {"name": "x", "email": "user00001@example.com"}),
    ("PATCH", "/users/1", {"name": "x"}),
    ("DELETE", "/users/2000000000", None),
    ("POST", "/cache/warm", {"products_top": 2}),
    ("POST", "/cache/invalidate", {"key": "product:1"}),
    ("GET", "/cache/stats", None),
]
ROUTE_KEYS = ["$default", "explicit", "ANY /{proxy+}"]


def _with_route_key(method: str, path: str, route_key: str, **options: Any) -> dict[str, Any]:
    sent = event(method, path, **options)
    key = f"{method} {path}" if route_key == "explicit" else route_key
    sent["routeKey"] = sent["requestContext"]["routeKey"] = key
    return sent


@pytest.mark.parametrize("route_key", ROUTE_KEYS)
@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_CALLS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATOR_CALLS])
def test_operator_routes_refuse_an_unsigned_request(api, method, path, body, route_key):
    answer = invoke(_with_route_key(method, path, route_key, body=body, signed=False))
    assert answer.status == 403, answer.body
    assert answer.body["error"] == "forbidden"
    assert "SigV4" in answer.body["message"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_CALLS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATOR_CALLS])
def test_operator_routes_serve_a_signed_request(api, caller, method, path, body):
    answer = invoke(_with_route_key(method, path, "$default", body=body, api_key=caller))
    # served: the route ran (a delete of an id that does not exist is its 404)
    assert answer.status < 400 or answer.body["error"] == "not_found", (path, answer.body)


@pytest.mark.parametrize("path", ["//cache/./stats", "/cache/stats/", "/products/.",
                                  "//products//5"])
def test_disguised_paths_of_an_operation_are_refused(api, path):
    method = "GET" if "cache" in path else "DELETE"
    assert invoke(event(method, path, signed=False)).status == 403


def test_what_is_no_operation_gets_the_routers_answer_not_a_403(api):
    """Nothing is written there; 404 or 405 with Allow tell the client the truth."""
    assert invoke(event("POST", "/nope", {}, signed=False)).status == 404
    wrong = invoke(event("PUT", "/sessions", {}, signed=False))
    assert (wrong.status, wrong.header("Allow")) == (405, "POST")


def test_reads_and_the_session_routes_stay_public(api):
    for method, path in (("GET", "/products/1"), ("GET", "/products?top=3"),
                         ("GET", "/users/1"), ("GET", "/stats/dashboard"),
                         ("GET", "/health"), ("GET", "/openapi.json"), ("HEAD", "/products/1")):
        assert invoke(event(method, path, signed=False)).status == 200, (method, path)
    login = call("POST", "/sessions", {"email": "user00002@example.com",
                                        "password": "valkey-demo-password"}, signed=False)
    assert login.status == 201
    bearer = {"Authorization": f"Bearer {login.body['token']}"}
    assert call("DELETE", "/sessions/current", headers=bearer, signed=False).status == 204


def test_the_rule_covers_every_operation_of_the_document(api):
    """Each operation is public or operator by the rule; writes other than the session
    routes are never public (the same rule builds the stack's route table)."""
    doc = call("GET", "/openapi.json").body
    for path, operations in doc["paths"].items():
        for method in operations:
            kind = caller_kind(method, path)
            if method != "get" and (method.upper(), path) not in {
                ("POST", "/sessions"), ("DELETE", "/sessions/current")
            }:
                assert kind == OPERATOR, (method, path)


def test_a_new_api_key_per_request_is_the_same_caller(api, monkeypatch):
    """X-Api-Key and X-Forwarded-For are the client's to choose: an anonymous caller is
    its source address, however many keys it invents."""
    from tests.integration.api.harness import environment

    with environment({**api, "RATE_LIMIT_REQUESTS": "20"}):
        statuses = []
        for n in range(25):
            answer = invoke(event("GET", "/products/1", signed=False, source_ip="192.0.2.77",
                                  headers={"X-Api-Key": f"key-{n}",
                                           "X-Forwarded-For": f"10.9.9.{n}"}))
            statuses.append(answer.status)
        assert statuses == [200] * 20 + [429] * 5
        assert answer.header("Retry-After")


def test_invalidating_everything_neither_resets_a_limit_nor_drops_a_session(api, caller):
    from tests.integration.api.harness import environment

    with environment({**api, "RATE_LIMIT_REQUESTS": "3"}):
        login = call("POST", "/sessions", {"email": "user00003@example.com",
                                            "password": "valkey-demo-password"},
                     signed=False, source_ip="192.0.2.8")
        token = login.body["token"]
        for _ in range(3):
            invoke(event("GET", "/products/2", signed=False, source_ip="192.0.2.9"))
        assert invoke(event("GET", "/products/2", signed=False,
                            source_ip="192.0.2.9")).status == 429
        for body in ({"pattern": "*"}, {"pattern": "rl:*"}, {"pattern": "session:*"}):
            assert call("POST", "/cache/invalidate", body, api_key=caller).status == 400
        assert invoke(event("GET", "/products/2", signed=False,
                            source_ip="192.0.2.9")).status == 429
        session = call("GET", "/sessions/current", signed=False, source_ip="192.0.2.10",
                       headers={"Authorization": f"Bearer {token}"})
        assert (session.status, session.body["user_id"]) == (200, 3)


def test_a_session_user_is_one_caller_from_any_address(api):
    from tests.integration.api.harness import environment

    with environment({**api, "RATE_LIMIT_REQUESTS": "3"}):
        token = call("POST", "/sessions", {"email": "user00004@example.com",
                                            "password": "valkey-demo-password"},
                     signed=False).body["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        statuses = [invoke(event("GET", "/products/3", signed=False, headers=bearer,
                                 source_ip=f"192.0.2.{20 + n}")).status for n in range(4)]
    assert statuses == [200, 200, 200, 429]
