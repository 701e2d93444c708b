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
def test_disguised_paths_of_an_operation_are_refused_or_unrouted(api, path):
    """What the router does not match runs nothing (404); what it does match is checked."""
    method = "GET" if "cache" in path else "DELETE"
    answer = invoke(event(method, path, signed=False))
    assert answer.status in (403, 404), answer.body


#: The shapes a request for an operator route may take that a check of the raw path
#: reads differently from the router (each walked around the old check).
def _head(method: str, path: str, body: Any) -> tuple[dict[str, Any], int]:
    return event("HEAD" if method == "GET" else method, path, body=body, signed=False), 403


def _newline(method: str, path: str, body: Any) -> tuple[dict[str, Any], int]:
    sent = event(method, path, body=body, signed=False)
    sent["rawPath"] = sent["requestContext"]["http"]["path"] = path + "\n"
    return sent, 400


def _named_stage(method: str, path: str, body: Any) -> tuple[dict[str, Any], int]:
    sent = event(method, path, body=body, signed=False)
    sent["rawPath"] = sent["requestContext"]["http"]["path"] = "/v1" + path
    sent["requestContext"]["stage"] = "v1"
    return sent, 403


@pytest.mark.parametrize("shape", [_head, _newline, _named_stage],
                         ids=["HEAD", "newline", "stage"])
@pytest.mark.parametrize("route_key", ROUTE_KEYS)
@pytest.mark.parametrize("operation", OPERATOR_CALLS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATOR_CALLS])
def test_no_spelling_of_an_operator_route_gets_past_the_handler(
    api, operation, route_key, shape
):
    method, path, body = operation
    sent, expected = shape(method, path, body)
    key = f"{method} {path}" if route_key == "explicit" else route_key
    sent["routeKey"] = sent["requestContext"]["routeKey"] = key
    answer = invoke(sent)
    assert answer.status == expected, (answer.status, answer.raw)


def test_a_signed_request_on_a_named_stage_is_served(api, caller):
    sent = event("GET", "/cache/stats", api_key=caller)
    sent["rawPath"] = sent["requestContext"]["http"]["path"] = "/v1/cache/stats"
    sent["requestContext"]["stage"] = "v1"
    assert invoke(sent).status == 200


@pytest.mark.parametrize("path", ["/products/1\n", "/health\r", "/users/me\x00",
                                  "/products\x1b[2J", "/products/1\x85"])
def test_a_path_with_a_control_character_is_400_before_routing(api, path):
    answer = invoke(event("GET", path, signed=False))
    assert (answer.status, answer.body["error"]) == (400, "bad_path")


def test_what_is_no_operation_gets_the_routers_answer_not_a_403(api):
    """Nothing is written there; 404 or 405 with Allow tell the client the truth."""
    assert invoke(event("POST", "/nope", {}, signed=False)).status == 404
    wrong = invoke(event("PUT", "/sessions", {}, signed=False))
    assert (wrong.status, wrong.header("Allow")) == (405, "POST")


def test_reads_and_the_session_routes_stay_public(api):
    for method, path in (("GET", "/products/1"), ("GET", "/products?top=3"),
                         ("GET", "/stats/dashboard"),
                         ("GET", "/health"), ("GET", "/openapi.json"), ("HEAD", "/products/1")):
        assert invoke(event(method, path, signed=False)).status == 200, (method, path)
    login = call("POST", "/sessions", {"email": "user00002@example.com",
                                        "password": "valkey-demo-password"}, signed=False)
    assert login.status == 201
    bearer = {"Authorization": f"Bearer {login.body['token']}"}
    assert call("DELETE", "/sessions/current", headers=bearer, signed=False).status == 204


def test_the_rule_covers_every_operation_of_the_document(api):
    """Each operation states its caller; writes other than logging in and out are never
    public, and the document says what the rule says."""
    doc = call("GET", "/openapi.json").body
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            kind = caller_kind(method, path)
            assert operation["x-caller"] == kind, (method, path)
            if method != "get" and (method.upper(), path) not in {
                ("POST", "/sessions"), ("DELETE", "/sessions/current")
            }:
                assert kind == OPERATOR, (method, path)
    assert doc["paths"]["/users/{id}"]["get"]["x-caller"] == "owner"
    assert doc["paths"]["/users/me"]["get"]["security"] == [{"bearer": []}]


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
