"""The API over real HTTP (``scripts.serve`` in front of the Lambda handler): the first
cache-aside walk (MISS, HIT, invalidate, MISS), error shapes through the HTTP server, keep-alive and
concurrent clients."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scripts.ops.http import HttpClient

pytestmark = pytest.mark.e2e


def loopback_address() -> str:
    """A random 127.x.y.z (not 127.0.0.1): a client address of its own."""
    octets = uuid.uuid4().bytes[:3]
    return f"127.{octets[0]}.{octets[1]}.{max(2, octets[2] % 255)}"


class Http:
    """The project's HTTP client (``scripts.ops.http``) from a loopback address of its
    own: the local server's operator for this client, with its own rate limit (the
    address is verified; headers would not be). JSON in, (status, headers, body) out."""

    def __init__(self, base_url: str) -> None:
        self.client = HttpClient(base_url, timeout=30, source_address=(loopback_address(), 0))

    def __call__(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, dict[str, str], Any]:
        response = self.client.request(method, path, json_body=body, body=raw)
        found = {k.lower(): v for k, v in response.headers.items()}
        is_json = found.get("content-type", "").startswith("application/json")
        parsed = json.loads(response.body) if is_json and response.body else response.body
        return response.status, found, parsed

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def http_api(api_url: str):
    client = Http(api_url)
    yield client
    client.close()


def test_cache_aside_first_slow_then_fast_invalidate_then_slow_again(http_api) -> None:
    status, _, product = http_api("POST", "/products", {"name": "Widget", "price": "9.99"})
    assert status == 201
    path = f"/products/{product['id']}"
    http_api("POST", "/cache/invalidate", {"key": f"product:{product['id']}"})
    outcomes = [http_api("GET", path)[1]["x-cache"] for _ in range(2)]
    _, _, deleted = http_api("POST", "/cache/invalidate", {"key": f"product:{product['id']}"})
    outcomes.append(http_api("GET", path)[1]["x-cache"])
    assert outcomes == ["MISS", "HIT", "MISS"]
    assert deleted["deleted"] == 1
    assert http_api("DELETE", path)[0] == 204


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (("GET", "/no/such/route", None), (404, "not_found")),
        (("DELETE", "/health", None), (405, "method_not_allowed")),
        (("GET", "/products/abc", None), (400, "validation_error")),
        (("POST", "/users", b'{"name": '), (400, "malformed_json")),
        (("POST", "/users", b"{" + b" " * 70_000 + b"}"), (413, "payload_too_large")),
    ],
)
def test_errors_keep_their_json_shape_through_the_http_server(
    http_api, request_, expected
) -> None:
    method, path, raw = request_
    status, headers, body = http_api(method, path, raw=raw)
    assert (status, body["error"]) == expected
    assert headers["content-type"] == "application/json"
    assert isinstance(body["message"], str)


def test_docs_and_openapi_are_served(http_api) -> None:
    status, headers, _ = http_api("GET", "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    status, _, doc = http_api("GET", "/openapi.json")
    assert status == 200 and "/products/{id}" in doc["paths"]


def test_concurrent_clients_get_consistent_answers(api_url: str) -> None:
    """The threaded local server runs one invocation at a time, as a Lambda does."""

    def client(n: int) -> list[int]:
        api = Http(api_url)
        statuses = []
        try:
            for i in range(12):
                pid = 1 + (n * 12 + i) % 50
                statuses.append(api("GET", f"/products/{pid}")[0])
                statuses.append(api("GET", "/products?top=3")[0])
            status, _, user = api("POST", "/users", {
                "name": f"c{n}", "email": f"c{n}-{uuid.uuid4().hex[:8]}@example.com",
                "password": "concurrent user password"})
            statuses.append(status)
            statuses.append(api("GET", f"/users/{user['id']}")[0])
            statuses.append(api("DELETE", f"/users/{user['id']}")[0])
        finally:
            api.close()
        return statuses

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [s for batch in pool.map(client, range(6)) for s in batch]
    assert len(results) == 6 * 27
    assert set(results) <= {200, 201, 204}
