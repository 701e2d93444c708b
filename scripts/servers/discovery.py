"""Finding a server for the stack or the tests: an endpoint named in the environment,
else a container when a Docker engine answers, else a local binary; and stopping it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lambda_app.config_types import ConfigError
from lambda_app.settings import DatabaseSettings, Settings
from scripts.servers.base import (
    Backend,
    BinaryNotFound,
    MysqlServer,
    R,
    ServerError,
    ValkeyCluster,
    ValkeyServer,
)
from scripts.servers.docker import (
    _container_running,
    _docker,
    container_name,
    docker_available,
    start_mysql_container,
    start_valkey_container,
)
from scripts.servers.mysql_server import MYSQL_PROGRAMS, check_mysql, mysql_answers, start_mysql
from scripts.servers.processes import pid_alive, terminate
from scripts.servers.valkey_server import check_valkey, start_valkey, valkey_answers


def _settings_from(environ: Mapping[str, str], prefix: str) -> Settings:
    """Parse `prefix`-ed VALKEY_*/DB_* variables with the runtime's own parser (one URL
    grammar); unrelated settings in the environment cannot make discovery fail."""
    plain = {
        key[len(prefix):]: value
        for key, value in environ.items()
        if key.startswith(prefix) and key[len(prefix):].startswith(("VALKEY_", "DB_"))
    }
    try:
        return Settings.from_env(plain)
    except ConfigError as exc:
        raise ServerError(
            f"{prefix}{exc.name}: expected {exc.expected}, got {exc.value!r}"
        ) from None


def _given(environ: Mapping[str, str], prefix: str, names: Iterable[str]) -> bool:
    return any(environ.get(prefix + name, "").strip() for name in names)


def valkey_from_env(environ: Mapping[str, str], prefix: str = "") -> ValkeyServer | None:
    """The Valkey endpoint the environment names (VALKEY_URL or VALKEY_HOST/PORT), if any."""
    if not _given(environ, prefix, ("VALKEY_URL", "VALKEY_HOST", "VALKEY_PORT")):
        return None
    settings = _settings_from(environ, prefix).valkey
    return ValkeyServer(
        host=settings.host, port=settings.port, password=settings.password,
        tls=settings.tls, ca_file=settings.ca_file, kind="external",
    )


def mysql_from_env(environ: Mapping[str, str], prefix: str = "") -> MysqlServer | None:
    """The MySQL endpoint the environment names (DB_HOST/DB_PORT), if any."""
    if not _given(environ, prefix, ("DB_HOST", "DB_PORT")):
        return None
    settings = _settings_from(environ, prefix).db
    return MysqlServer(
        host=settings.host, port=settings.port, user=settings.user or "root",
        password=settings.password or "", database=settings.name, kind="external",
    )


def _use_docker(backend: Backend) -> bool:
    if backend == "docker" and not docker_available():
        raise ServerError("backend docker: no Docker engine answers (docker info failed)")
    return backend == "docker" or (backend == "auto" and docker_available())


def _provide(
    external: R | None,
    source: str,
    check: Callable[[R, str], None],
    backend: Backend,
    *,
    container: Callable[[], R],
    binary: Callable[[], R],
) -> R:
    """The `external` server (checked, naming `source`); else a container when Docker
    answers, falling back to a binary under `auto`."""
    if external is not None:
        check(external, source)
        return external
    if not _use_docker(backend):
        return binary()
    try:
        return container()
    except ServerError as container_error:
        if backend == "docker":
            raise
        try:
            return binary()
        except BinaryNotFound as missing:
            raise ServerError(f"{container_error}; and {missing}") from None


def provide_valkey(
    state_dir: Path,
    *,
    external: ValkeyServer | None = None,
    source: str = "VALKEY_URL",
    backend: Backend = "auto",
    port: int | None = None,
) -> ValkeyServer:
    """A Valkey server: the `external` one (checked), else a container, else a binary."""
    return _provide(
        external, source, check_valkey, backend,
        container=lambda: start_valkey_container(container_name(state_dir, "valkey"), port=port),
        binary=lambda: start_valkey(state_dir / "valkey", port=port),
    )


def provide_mysql(
    state_dir: Path,
    *,
    external: MysqlServer | None = None,
    source: str = "DB_HOST",
    backend: Backend = "auto",
    port: int | None = None,
) -> MysqlServer:
    """A MySQL server: the `external` one (checked), else a container, else a binary."""
    return _provide(
        external, source, check_mysql, backend,
        container=lambda: start_mysql_container(container_name(state_dir, "mysql"), port=port),
        binary=lambda: start_mysql(state_dir / "mysql", port=port),
    )


def is_running(server: ValkeyServer | MysqlServer) -> bool:
    """Our process (or container) is alive and the endpoint answers."""
    if server.kind == "binary" and (server.pid is None or not pid_alive(server.pid)):
        return False
    if isinstance(server, ValkeyServer):
        return valkey_answers(server)
    return mysql_answers(server)


def stop(server: ValkeyServer | MysqlServer | ValkeyCluster) -> bool:
    """Stop a server we started (external endpoints are left alone); True if it ran."""
    if isinstance(server, ValkeyCluster):
        stopped = [stop(node) for node in server.nodes]  # every node, no short-circuit
        return any(stopped)
    if server.kind == "container" and server.container:
        running = _container_running(server.container)
        with contextlib.suppress(ServerError):
            _docker("rm", "-f", server.container, timeout=60)
        return running
    if server.kind == "binary" and server.pid is not None:
        programs = ["valkey-server"] if isinstance(server, ValkeyServer) else MYSQL_PROGRAMS
        return terminate(server.pid, programs=programs)
    return False


#: Local tools only (``make serve``/``demo``/``seed`` migrate and seed as the owner, then
#: serve as ``DB_USER``): the database owner, as the migrator's master secret is on AWS.
ADMIN_USER_ENV, ADMIN_PASSWORD_ENV = "DB_ADMIN_USER", "DB_ADMIN_PASSWORD"


def admin_settings(settings: DatabaseSettings, environ: Mapping[str, str]) -> DatabaseSettings:
    """``settings`` with the owner's credentials when the environment names them."""
    user = environ.get(ADMIN_USER_ENV, "").strip()
    if not user:
        return settings
    return settings.model_copy(update={"user": user,
                                       "password": environ.get(ADMIN_PASSWORD_ENV, "")})


def env_for(
    valkey_server: ValkeyServer | ValkeyCluster,
    mysql_server: MysqlServer,
    *,
    admin: MysqlServer | None = None,
) -> dict[str, str]:
    """The settings variables (BRIEF names) that point the app at these servers; with
    ``admin``, the owner's credentials for the local tools that migrate and seed."""
    cluster = isinstance(valkey_server, ValkeyCluster)
    node = valkey_server.nodes[0] if isinstance(valkey_server, ValkeyCluster) else valkey_server
    env = {
        "VALKEY_URL": node.url,
        "VALKEY_HOST": node.host,
        "VALKEY_PORT": str(node.port),
        "VALKEY_TLS": "true" if node.tls else "false",
        "VALKEY_CLUSTER": "true" if cluster else "false",
        "DB_HOST": mysql_server.host,
        "DB_PORT": str(mysql_server.port),
        "DB_NAME": mysql_server.database,
        "DB_USER": mysql_server.user,
        "DB_PASSWORD": mysql_server.password,
    }
    if mysql_server.ca_file:
        env["DB_TLS"], env["DB_CA_FILE"] = "true", mysql_server.ca_file
    if node.ca_file:
        env["VALKEY_CA_FILE"] = node.ca_file
    if admin is not None:
        env[ADMIN_USER_ENV], env[ADMIN_PASSWORD_ENV] = admin.user, admin.password
    return env
