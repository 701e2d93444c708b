"""The error contract through the handler: JSON ``{"error", "message"}`` for every
refusal, the right status for each, and never a 500 for bad input."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.integration.api.harness import call, event, invoke

pytestmark = pytest.mark.integration


def _is_error(answer, status: int, code: str) -> None:
    assert answer.status == status, answer.raw
    assert answer.header("Content-Type") == "application/json"
    assert answer.body["error"] == code
    assert isinstance(answer.body["message"], str) and answer.body["message"]


def test_unknown_route_is_404(api, caller) -> None:
    _is_error(call("GET", "/nope", api_key=caller), 404, "not_found")
    _is_error(call("GET", "/products/1/extra", api_key=caller), 404, "not_found")


def test_wrong_method_on_a_known_path_is_405_with_allow(api, caller) -> None:
    answer = call("POST", "/products/1", {"name": "x"}, api_key=caller)
    _is_error(answer, 405, "method_not_allowed")
    assert answer.header("Allow") == "DELETE, GET, PATCH, PUT"


def test_a_body_over_64_kb_is_413(api, caller) -> None:
    big = b'{"name": "' + b"x" * (64 * 1024) + b'", "price": 1}'
    _is_error(call("POST", "/products", raw=big, api_key=caller), 413, "payload_too_large")
    # whatever the route, and before anything parses it
    _is_error(call("POST", "/nope", raw=b"[" * 70_000, api_key=caller), 413, "payload_too_large")


def test_exactly_64_kb_is_accepted_and_validated(api, caller) -> None:
    body = b'{"name": "x", "price": 1, "description": "' + b"d" * 9_000 + b'"}'
    padded = body + b" " * (64 * 1024 - len(body))
    answer = call("POST", "/products", raw=padded, api_key=caller)
    assert answer.status == 201
    call("DELETE", f"/products/{answer.body['id']}", api_key=caller)


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "x",', b"{", b"nul", b"[" * 50_000, b'{"price": ' + b"9" * 5_000 + b"}",
     b"\xff\xfe{}", b"\xef\xbb\xbf{}"],
)
def test_malformed_json_is_400(api, caller, raw) -> None:
    _is_error(call("POST", "/products", raw=raw, api_key=caller), 400, "malformed_json")


def test_a_base64_body_is_decoded_like_api_gateway_does(api, caller) -> None:
    sent = event("POST", "/cache/warm", {"products_top": 2}, api_key=caller)
    sent["body"] = base64.b64encode(sent["body"].encode()).decode()
    sent["isBase64Encoded"] = True
    assert invoke(sent).status == 200
    sent["body"] = "%%%not-base64"
    _is_error(invoke(sent), 400, "malformed_body")


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "multipart/form-data", "application/xml"],
)
def test_bodies_must_be_json(api, caller, content_type) -> None:
    answer = call("POST", "/products", raw=b'{"name": "x", "price": 1}',
                  headers={"Content-Type": content_type}, api_key=caller)
    _is_error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain; charset=utf-8",
                     "text/plain", "application/jsonx", None]
)
def test_a_body_a_web_page_could_send_without_preflight_is_415(api, caller, content_type):
    """A page open in an operator's browser may POST plain text, a form or a type-less
    body to any site without a CORS preflight: none of them may write."""
    sent = event("POST", "/products", raw=b'{"name": "cross-site", "price": "2.50"}',
                 headers={} if content_type is None else {"Content-Type": content_type},
                 api_key=caller)
    if content_type is None:
        sent["headers"].pop("content-type", None)
    _is_error(invoke(sent), 415, "unsupported_media_type")
    listed = call("GET", "/products?top=100", api_key=caller).body["items"]
    assert "cross-site" not in {item["name"] for item in listed}


def test_json_with_charset_or_any_case_is_accepted(api, caller) -> None:
    for headers in ({"Content-Type": "application/json; charset=utf-8"},
                    {"Content-Type": "Application/JSON"}):
        sent = event("POST", "/cache/warm", {"products_top": 1}, headers=headers,
                     api_key=caller)
        assert invoke(sent).status == 200


def test_validation_errors_name_every_field(api, caller) -> None:
    answer = call("POST", "/products", {"name": "", "price": -1, "colour": "red"},
                  api_key=caller)
    _is_error(answer, 400, "validation_error")
    message = answer.body["message"]
    assert "name: " in message and "price: " in message and "colour: " in message
    assert "Traceback" not in answer.raw.decode()


def test_a_body_that_is_not_an_object_is_400(api, caller) -> None:
    for raw in (b"[1, 2]", b'"text"', b"3", b"null"):
        answer = call("POST", "/products", raw=raw, api_key=caller,
                      headers={"Content-Type": "application/json"})
        _is_error(answer, 400, "validation_error")


def test_a_non_http_event_gets_a_400_not_an_exception(api) -> None:
    from lambda_app.handlers.api import handler
    from scripts.serve import LambdaContext

    bad: Any
    for bad in ({}, {"source": "aws.events"}, [], None, "x"):
        result = handler(bad, LambdaContext())
        assert result["statusCode"] == 400
        assert '"bad_event"' in result["body"]


def test_every_answer_carries_the_correlation_id(api, caller) -> None:
    sent = event("GET", "/nope", api_key=caller)
    answer = invoke(sent)
    assert answer.header("X-Correlation-Id") == sent["requestContext"]["requestId"]


@pytest.mark.parametrize(("path", "body"), [
    ("/cache/invalidate", {"key": "nope"}),
    ("/cache/invalidate", {"key": 5}),
    ("/cache/invalidate", {"tag": "x"}),
    ("/cache/invalidate", {"pattern": ["product:*"]}),
    ("/products", {"name": 5, "price": "abc", "description": [1]}),
    ("/users", {"name": "x", "email": "a\u200b@b.co", "password": 12}),
])
def test_validation_messages_name_the_field_and_the_rule_not_pydantic(api, caller, path, body):
    answer = call("POST", path, body, api_key=caller)
    _is_error(answer, 400, "validation_error")
    message = answer.body["message"]
    for internal in ("function-after", "constrained-", "[", "Input should be None"):
        assert internal not in message, message
    assert message.split(":", 1)[0] in {*body, "body"}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_method_a_fixed_path_does_not_take_is_405_not_a_write_to_an_id(api, caller, method):
    """``/users/me`` is a resource of its own: ``PUT /users/me`` is no user called me."""
    answer = call(method, "/users/me", api_key=caller)
    _is_error(answer, 405, "method_not_allowed")
    assert answer.header("Allow") == "GET"
