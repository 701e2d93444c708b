"""``python -m bench`` end to end, quick and small, against the fixture servers.

Runs the real command line in a child process (as ``make bench`` does) on the seeded,
read-only database, so the figures themselves are not checked (benchmarks print, tests
assert behaviour): only that the run completes, writes its page and plots, merges runs,
leaves no keys behind, and reports bad input as one clear line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import servers
from tests import processes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )


#: The app's settings: the benchmarks read them, so none may leak in from the test
#: process (the session-scoped served API keeps its own in os.environ while it runs).
APP_SETTINGS = ("VALKEY_", "DB_", "CACHE_", "TTL_", "RATE_LIMIT_", "LOGIN_RATE_LIMIT_",
                "NEAR_CACHE_", "POWERTOOLS_", "LOG_LEVEL")


@pytest.fixture
def bench_env(valkey_server, seeded_mysql):
    env = {key: value for key, value in os.environ.items() if not key.startswith(APP_SETTINGS)}
    env.update(servers.env_for(valkey_server, seeded_mysql))
    return env


def test_quick_run_writes_results_and_merges_later_runs(bench_env, valkey, tmp_path):
    first = bench("--quick", "--only", "memory", "--out", str(tmp_path), env=bench_env)
    assert first.returncode == 0, first.stderr
    assert "bench [1/1] memory: " in first.stdout

    second = bench("--quick", "--only", "rate_limit", "--out", str(tmp_path), env=bench_env)
    assert second.returncode == 0, second.stderr

    page = (tmp_path / "RESULTS.md").read_text()
    assert "## Memory per product: hash vs JSON string vs one key per field (quick run)" in page
    assert (
        "## Rate limiter across a window boundary: sliding log vs sliding counter vs fixed "
        "(quick run)" in page
    )
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in page.splitlines()]
    burst = "burst of 400 over the 2 s around a boundary"
    assert ["fixed", burst, "400", "200"] in [row[:4] for row in rows]
    assert ["log", burst, "400", "100"] in [row[:4] for row in rows]
    assert "- valkey-server: 9." in page
    for name in ("memory.png", "rate_limit.png"):
        png = (tmp_path / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) < 150_000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [s["name"] for s in saved["sections"]] == ["memory", "rate_limit"]
    assert valkey.keys("bench:*") == []  # the app's server is left as it was


def test_unknown_benchmark_is_one_clear_line(bench_env, tmp_path):
    result = bench("--only", "nope", "--out", str(tmp_path), env=bench_env)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "bench: unknown benchmark 'nope': expected one of read_latency, handler, peers, "
        "warming, stampede, eviction, memory, field_ttl, rate_limit, faults, tls_connect, "
        "cold_start, bundle"
    )


def test_bad_settings_are_one_clear_line(bench_env, tmp_path):
    env = {key: value for key, value in bench_env.items() if key != "VALKEY_URL"}
    env["VALKEY_PORT"] = "not-a-port"
    result = bench("--quick", "--only", "memory", "--out", str(tmp_path), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("bench: VALKEY_PORT: expected")
    assert "Traceback" not in result.stderr


def test_benchmarks_seed_a_database_of_their_own(mysql_server, tmp_path):
    """``make bench`` beside a running ``make serve``: the benchmark seed (which replaces
    data) lands in ``<DB_NAME>_bench``; the app's database keeps its rows."""
    from bench.__main__ import DB_SUFFIX, own_database
    from bench.context import Context
    from lambda_app.settings import Settings

    app = servers.create_database(mysql_server, f"{mysql_server.database}_keepme")
    conn = servers.mysql_connect(app)
    try:
        from lambda_app.data.migrations import migrate

        migrate(conn)
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO products (name, price, description) "
                           "VALUES ('mine', 1, 'a developer row')")
        conn.commit()
        settings = own_database(Settings.from_env({
            "DB_HOST": app.host, "DB_PORT": str(app.port), "DB_USER": app.user,
            "DB_PASSWORD": app.password, "DB_NAME": app.database,
        }))
        assert settings.db.name == app.database + DB_SUFFIX
        ctx = Context(settings, tmp_path)
        with ctx.db.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM products")
            assert cursor.fetchone()["n"] == 10_000
        with conn.cursor() as cursor:
            cursor.execute("SELECT name FROM products")
            assert [row["name"] for row in cursor.fetchall()] == ["mine"]
        conn.commit()
    finally:
        conn.close()
