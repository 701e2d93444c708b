"""The access rule over real HTTP, through the local server as a client on the internet
would meet it: unsigned (``--anonymous``), and as the local operator (loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts import servers
from scripts.ops.http import HttpClient
from tests.e2e.conftest import served_api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stranger(valkey_server: servers.ValkeyServer,
             mysql_server: servers.MysqlServer) -> Iterator[HttpClient]:
    with served_api(valkey_server, mysql_server, "api_stranger", CACHE_PREFIX="stranger",
                    serve={"principal": None}) as url:
        client = HttpClient(url, timeout=10)
        try:
            yield client
        finally:
            client.close()


@pytest.mark.parametrize(("method", "path"), [
    ("HEAD", "/cache/stats"), ("GET", "/cache/stats"), ("HEAD", "/users/1"),
    ("GET", "/users/1"), ("GET", "/users/me"), ("POST", "/cache/warm"),
    ("DELETE", "/users/1"), ("PATCH", "/products/1"),
])
def test_a_stranger_gets_no_operator_route_and_no_user(stranger, method, path):
    answer = stranger.request(method, path, json_body={} if method in {"POST", "PATCH"} else None)
    assert answer.status in (401, 403), (method, path, answer.status)
    assert b"email" not in answer.body


def test_a_stranger_still_reads_the_catalogue(stranger):
    assert stranger.request("GET", "/products/1").status == 200
    assert stranger.request("HEAD", "/products/1").status == 200


def test_a_cross_site_text_body_cannot_write_even_for_the_operator(api_url):
    """What a page in the operator's browser could send without a preflight."""
    client = HttpClient(api_url, timeout=10)
    try:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            answer = client.request("POST", "/cache/invalidate", body=b'{"pattern": "product:*"}',
                                    headers={"Content-Type": content_type})
            assert answer.status == 415, answer.body
    finally:
        client.close()
