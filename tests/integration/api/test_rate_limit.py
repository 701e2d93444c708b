"""Rate limiting per caller through the handler, with a limit of 3 requests per minute."""

from __future__ import annotations

import pytest

from tests.integration.api.harness import call, environment

pytestmark = pytest.mark.integration


@pytest.fixture
def limit_of_3(api):
    with environment({**api, "RATE_LIMIT_REQUESTS": "3", "RATE_LIMIT_WINDOW": "60"}):
        yield


def test_the_fourth_request_is_429_with_retry_after(limit_of_3, caller) -> None:
    answers = [call("GET", "/products/1", api_key=caller) for _ in range(4)]
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert [a.header("RateLimit-Remaining") for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer.header("RateLimit-Limit") == "3"
        assert 0 <= int(answer.header("RateLimit-Reset") or -1) <= 60
    refused = answers[-1]
    assert refused.body["error"] == "rate_limited"
    assert 1 <= int(refused.header("Retry-After") or 0) <= 120


def test_limits_are_per_caller_and_fall_back_to_the_source_ip(limit_of_3, caller) -> None:
    for _ in range(3):
        call("GET", "/products/1", api_key=caller)
    assert call("GET", "/products/1", api_key=caller).status == 429
    assert call("GET", "/products/1", api_key=caller + "-other").status == 200
    assert call("GET", "/products/1", source_ip="203.0.113.9").status == 200


def test_every_route_but_health_is_limited_errors_included(limit_of_3, caller) -> None:
    statuses = [
        call("GET", "/nope", api_key=caller).status,
        call("POST", "/products", raw=b"{", api_key=caller).status,
        call("GET", "/products/abc", api_key=caller).status,
        call("GET", "/products/1", api_key=caller).status,
    ]
    assert statuses == [404, 400, 400, 429]
    for _ in range(5):
        health = call("GET", "/health", api_key=caller)
        assert health.status == 200
        assert health.header("RateLimit-Limit") is None
