"""The Docker path: when a Docker engine answers, servers run as containers of the images
``docker-compose.yml`` names (``VALKEY_IMAGE``/``MYSQL_IMAGE`` override both alike).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import subprocess
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from scripts.servers.base import (
    LOOPBACK,
    MysqlServer,
    ServerError,
    ValkeyServer,
    compose_image,
)
from scripts.servers.mysql_server import _checked_name, mysql_answers
from scripts.servers.processes import _claim, _last_line, _wait, find_binary, which
from scripts.servers.valkey_server import _valkey_tuning, valkey_answers


@functools.cache
def docker_available() -> bool:
    """True when a Docker engine answers (the CLI alone is not enough)."""
    docker = which("docker")
    if docker is None:
        return False
    try:
        subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=5,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def _docker(*args: str, timeout: float = 120) -> str:
    docker = find_binary("docker", hint="install the Docker CLI")
    try:
        result = subprocess.run(
            [docker, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"docker {args[0]} timed out after {timeout:g} s") from None
    if result.returncode != 0:
        raise ServerError(f"docker {args[0]} failed: {_last_line(result)}")
    return result.stdout.strip()


def container_name(state_dir: Path, service: str) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
    return f"valkey-caching-{service}-{digest}"


def _run_container(
    name: str,
    image: str,
    *,
    port: int,
    inner_port: int,
    env: Mapping[str, str],
    command: list[str],
) -> None:
    with contextlib.suppress(ServerError):
        _docker("rm", "-f", name, timeout=30)
    env_args = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    _docker(
        "run", "-d", "--name", name, "--label", "valkey-caching.local=1",
        "-p", f"{LOOPBACK}:{port}:{inner_port}", *env_args, image, *command,
        timeout=600,  # the first run pulls the image
    )


def _container_running(name: str) -> bool:
    try:
        return _docker("inspect", "-f", "{{.State.Running}}", name, timeout=10) == "true"
    except ServerError:
        return False


def start_valkey_container(name: str, *, port: int | None = None) -> ValkeyServer:
    chosen = _claim(port, "Valkey")
    started = time.monotonic()
    _run_container(name, compose_image("valkey"), port=chosen, inner_port=6379, env={},
                   command=_valkey_tuning(debug="yes"))
    server = ValkeyServer(host=LOOPBACK, port=chosen, kind="container", container=name)
    _wait(lambda: valkey_answers(server), alive=lambda: _container_running(name),
          timeout=60, what=f"container {name}")
    return replace(server, started_in=time.monotonic() - started)


def start_mysql_container(
    name: str, *, port: int | None = None, database: str = "app"
) -> MysqlServer:
    chosen = _claim(port, "MySQL")
    password = secrets.token_hex(16)
    started = time.monotonic()
    _run_container(
        name, compose_image("mysql"), port=chosen, inner_port=3306,
        env={"MYSQL_ROOT_PASSWORD": password, "MYSQL_DATABASE": _checked_name(database)},
        command=["--default-time-zone=+00:00", "--character-set-server=utf8mb4",
                 "--collation-server=utf8mb4_unicode_ci", "--skip-log-bin"],
    )
    server = MysqlServer(host=LOOPBACK, port=chosen, user="root", password=password,
                         database=database, kind="container", flavor="mysql", container=name)
    _wait(lambda: mysql_answers(server), alive=lambda: _container_running(name),
          timeout=180, what=f"container {name}")
    return replace(server, started_in=time.monotonic() - started)


# --------------------------------------------------------------------------- Valkey


