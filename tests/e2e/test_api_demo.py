"""``make demo`` (``python -m scripts.demo``) end to end, as CI runs it: no terminal, so it
walks through every pattern, prints timings, and exits 0 instead of serving forever."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import servers
from tests import processes
from tests.integration.api.harness import api_database, api_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_walks_through_every_pattern_and_exits(
    valkey_server: servers.ValkeyServer, mysql_server: servers.MysqlServer
) -> None:
    database = api_database(mysql_server, "api_demo")  # not empty: the demo skips seeding
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VALKEY_", "DB_"))},
        **api_env(valkey_server, database, CACHE_PREFIX="demo", RATE_LIMIT_REQUESTS="50"),
    }
    result = processes.run(
        [sys.executable, "-m", "scripts.demo", "--port", "0"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=180, check=False,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seed skipped" in out
    # cache-aside as a demo shows it: MISS, HIT, invalidate, MISS
    aside = out[out.index("1. Cache-aside"):out.index("2. Negative")]
    assert [line.split("X-Cache")[1].split()[0] for line in aside.splitlines()
            if "GET    /products/" in line] == ["MISS", "HIT", "MISS"]
    assert "deleted {'deleted': 1}" in aside
    for expected in ("2. Negative caching", "404  X-Cache HIT", "4. Write-through",
                     "6. Sessions", "wrong password: 401", "after logout: 401",
                     "8. Cache warming", "warmed {\"warmed\": 100", "9. Cache statistics",
                     "maxmemory-policy: allkeys-lfu", "make serve"):
        assert expected in out, expected
    # the address and the user each count: the limit is reached within it, not past it
    limited = re.search(r"429 after (\d+) requests", out)
    assert limited is not None and 1 < int(limited.group(1)) <= 51
    assert "${PORT" not in out
    assert " -> 5" not in out  # no 5xx anywhere in the walk-through
