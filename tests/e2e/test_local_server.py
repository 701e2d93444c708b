"""The local server as a client meets it: every method, HEAD, chunked bodies, malformed
requests and clients that vanish; and ``scripts.serve`` on a clean database or with bad
settings.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from scripts import servers
from tests import processes
from tests.e2e.test_api_http import loopback_address
from tests.integration.api.harness import api_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _raw(api_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; parse the status line, headers and body of the answer."""
    host, port = api_url.removeprefix("http://").split(":")
    # A loopback address of its own: a caller of its own, whoever spent 127.0.0.1's limit.
    with socket.create_connection((host, int(port)), timeout=10,
                                  source_address=(loopback_address(), 0)) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(rest) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return status, headers, body


def test_an_undeclared_method_is_405_with_allow_in_the_json_shape(api_url: str) -> None:
    status, headers, body = _raw(api_url, b"TRACE /products/1 HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n")
    assert (status, headers["allow"]) == (405, "DELETE, GET, PATCH, PUT")
    assert json.loads(body)["error"] == "method_not_allowed"


def test_head_answers_like_get_without_a_body(api_url: str) -> None:
    status, headers, body = _raw(api_url, b"HEAD /products/1 HTTP/1.1\r\nHost: x\r\n"
                                          b"Connection: close\r\n\r\n")
    assert status == 200 and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) > 0 and body == b""


def test_a_chunked_body_is_read_as_the_body(api_url: str) -> None:
    payload = json.dumps({"name": "chunked", "price": 2}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                      for part in (payload[:7], payload[7:]))
    request = (b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
    status, _, body = _raw(api_url, request)
    assert (status, json.loads(body)["name"]) == (201, "chunked")


@pytest.mark.parametrize("request_line", [b"GARBAGE\r\n\r\n", b"GET /x HTTP/9.9\r\n\r\n",
                                          b"GET " + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"])
def test_a_malformed_request_gets_the_json_error_shape(api_url: str, request_line: bytes) -> None:
    status, headers, body = _raw(api_url, request_line)
    assert status >= 400 and headers["content-type"] == "application/json"
    parsed = json.loads(body)
    assert parsed["error"].startswith("http_") and parsed["message"]


def test_a_client_that_vanishes_leaves_the_server_serving(api_url: str) -> None:
    host, port = api_url.removeprefix("http://").split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=5,
                                      source_address=(loopback_address(), 0)) as sock:
            sock.sendall(b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    status, _, _ = _raw(api_url, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200


def _serve(env: dict[str, str], *args: str) -> processes.subprocess.Popen[str]:
    return processes.subprocess.Popen(
        [sys.executable, "-m", "scripts.serve", "--port", "0", *args], cwd=ROOT, env=env,
        stdin=processes.subprocess.DEVNULL, stdout=processes.subprocess.PIPE,
        stderr=processes.subprocess.STDOUT, text=True,
    )


@pytest.mark.parametrize(("name", "value", "says"), [
    ("VALKEY_PORT", "abc", "VALKEY_PORT: expected a whole number from 1 to 65535, got 'abc'"),
    (
        "TTL_PRODUCT", "-5",
        "TTL_PRODUCT: expected a whole number from 1 to 2592000 (seconds), got '-5'",
    ),
    ("RATE_LIMIT_ALGORITHM", "bogus", "RATE_LIMIT_ALGORITHM: expected one of log, sliding, fixed"),
])
def test_bad_settings_stop_the_server_before_it_listens(name: str, value: str, says: str) -> None:
    env = {**os.environ, name: value}
    result = processes.run([sys.executable, "-m", "scripts.serve", "--port", "0"], cwd=ROOT,
                           env=env, stdin=processes.subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
    assert result.returncode == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "serving" not in result.stdout


def test_a_clean_database_is_migrated_and_seeded_before_serving(
    valkey_server, mysql_server
) -> None:
    """``make serve`` on a fresh clone: no ``make seed`` first, and every route answers."""
    database = servers.create_database(mysql_server, f"{mysql_server.database}_fresh_serve")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("VALKEY_", "DB_"))},
           **api_env(valkey_server, database, CACHE_PREFIX="freshserve")}
    server = _serve(env, "--quiet")
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.stdout is not None:
            line = server.stdout.readline()
            lines.append(line)
            if line.startswith("serving"):
                break
        assert any("migrations applied [1, 2, 3]" in line and "seeded 10000 products" in line
                   for line in lines), lines
        url = lines[-1].split(" at ")[1].split()[0]
        status, _, body = _raw(url, b"GET /products/42 HTTP/1.1\r\nHost: x\r\n"
                                    b"Connection: close\r\n\r\n")
        assert status == 200 and json.loads(body)["id"] == 42
    finally:
        processes.stop(server)
