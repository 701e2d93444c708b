"""`seed --local` against the real MySQL-compatible server of the test session."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from scripts import servers
from scripts.ops.cli import main

pytestmark = pytest.mark.integration

SEED = ["seed", "--local", "--products", "30", "--users", "5", "--orders", "10", "--seed", "3"]


def point_settings_at(monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv("DB_HOST", server.host)
    monkeypatch.setenv("DB_PORT", str(server.port))
    monkeypatch.setenv("DB_USER", server.user)
    monkeypatch.setenv("DB_PASSWORD", server.password)
    monkeypatch.setenv("DB_NAME", server.database)


def count(server: Any, table: str) -> int:
    conn = servers.mysql_connect(server)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
            row = cursor.fetchone()
        assert row is not None
        return int(row["n"])
    finally:
        conn.close()


def test_seed_local_migrates_then_loads_the_chosen_sizes(
    mysql_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = servers.create_database(mysql_server, f"{mysql_server.database}_ops_seed")
    point_settings_at(monkeypatch, server)

    assert main([*SEED, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["migrations_applied"]  # a fresh database gets every migration
    assert (first["products"], first["users"], first["orders"]) == (30, 5, 10)
    assert count(server, "products") == 30 and count(server, "users") == 5

    assert main([*SEED, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["migrations_applied"] == []  # migrations run once
    assert again["checksum"] == first["checksum"]  # same seed, same data


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    monkeypatch.setenv("DB_PORT", str(port))
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "1")
    assert main(SEED) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: MySQL at mysql://127.0.0.1:{port}/")
    assert captured.err.count("\n") == 1


def test_a_malformed_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PORT", "not-a-port")
    assert main(SEED) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: DB_PORT: expected")
    assert err.count("\n") == 1


def test_reseeding_clears_the_cached_rows_it_replaced(
    mysql_server: Any, valkey_server: Any, valkey: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A price changed and cached before the reseed must not answer after it."""
    from tests.integration.api.harness import api_env, call, environment

    server = servers.create_database(mysql_server, f"{mysql_server.database}_reseed")
    with environment({**api_env(valkey_server, server, CACHE_PREFIX="reseed"),
                      "DB_USER": server.user, "DB_PASSWORD": server.password}):
        assert main([*SEED, "--json"]) == 0
        capsys.readouterr()
        assert call("PATCH", "/products/1", {"price": "987.65"}).status == 200
        assert call("GET", "/products/1").body["price"] == 987.65  # cached (write-through)
        assert main([*SEED, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["cache_keys_cleared"] >= 1
        after = call("GET", "/products/1")
    assert (after.header("X-Cache"), after.body["price"] != 987.65) == ("MISS", True)
    assert valkey.keys("reseed:product:*") == [b"reseed:product:1"]  # refilled by the read
