"""``local_stack --backend docker``: the containers start, answer, and are gone after down.

Needs a Docker engine. Without one the test is skipped, except under
``python -m scripts.container_suite`` (``VALKEY_CACHING_CONTAINERS=required``), which
starts an engine first and must not pass by skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import servers
from scripts.servers.base import image_variable
from tests import processes

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[2]


def _engine() -> None:
    if servers.docker_available():
        return
    message = "no Docker engine answers (python -m scripts.container_suite starts one)"
    if os.environ.get("VALKEY_CACHING_CONTAINERS") == "required":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _stack(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No endpoint settings (they would name a server instead of starting one), but the
    # image overrides the compose file reads (VALKEY_IMAGE starts like an endpoint name).
    images = {image_variable("valkey"), image_variable("mysql")}
    env = {k: v for k, v in os.environ.items()
           if k in images or not k.startswith(("VALKEY_", "DB_"))}
    return processes.run(
        [sys.executable, "-m", "scripts.local_stack", "--state-dir", str(state), *args],
        capture_output=True, text=True, timeout=400, env=env, cwd=PROJECT, check=False,
    )


def _ours(names: list[str]) -> list[str]:
    listed = processes.run(["docker", "ps", "-a", "--format", "{{.Names}}"],
                           capture_output=True, text=True, timeout=30, check=True)
    return [name for name in listed.stdout.split() if name in names]


def test_the_docker_backend_starts_answering_servers_and_down_removes_them(
    tmp_path: Path,
) -> None:
    _engine()
    state = tmp_path / "state"
    names = [servers.container_name(state, service) for service in ("valkey", "mysql")]
    try:
        up = _stack(state, "up", "--backend", "docker")
        assert up.returncode == 0, up.stderr
        status = json.loads(_stack(state, "status", "--json").stdout)
        assert {entry["kind"] for entry in status.values()} == {"container"}, status
        assert {entry["state"] for entry in status.values()} == {"running"}, status
        env = json.loads(_stack(state, "env", "--json").stdout)
        valkey = servers.valkey_client(servers.ValkeyServer(
            host="127.0.0.1", port=int(env["VALKEY_PORT"])))
        assert valkey.ping() is True
        valkey.close()
        serving = servers.MysqlServer(  # the restricted user the stack granted
            host="127.0.0.1", port=int(env["DB_PORT"]), user=env["DB_USER"],
            password=env["DB_PASSWORD"], database=env["DB_NAME"])
        conn = servers.mysql_connect(serving)
        with conn.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER() AS who")
            assert str(cursor.fetchone()["who"]).startswith(env["DB_USER"] + "@")
        conn.close()
        assert sorted(_ours(names)) == sorted(names)
    finally:
        down = _stack(state, "down")
    assert down.returncode == 0, down.stderr
    assert _ours(names) == []
