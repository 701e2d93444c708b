"""Start, stop and wait for the real Valkey and MySQL servers used locally and in tests.

`scripts/local_stack.py` and `tests/conftest.py` both use this package, so a developer's
stack and the test harness find and run servers the same way: an endpoint given in the
environment first, then containers when a Docker engine answers, then local binaries.
Every failure is a `ServerError` whose message is one line a human can act on.

One module per job: ``base`` (descriptions, errors, images), ``processes`` (binaries,
ports, waiting, stopping), ``docker``, ``tls`` (the test CA), ``valkey_server``,
``mysql_server``, ``discovery`` (which of them, in what order).
"""

from __future__ import annotations

from scripts.servers.base import (
    BACKENDS,
    INSTALL_DOCKER,
    INSTALL_MYSQL,
    INSTALL_VALKEY,
    LOOPBACK,
    MYSQL_IMAGE,
    VALKEY_IMAGE,
    Backend,
    BinaryNotFound,
    EndpointError,
    Kind,
    MysqlServer,
    PortInUse,
    ServerError,
    TlsFiles,
    ValkeyCluster,
    ValkeyServer,
    from_dict,
)
from scripts.servers.discovery import (
    env_for,
    is_running,
    mysql_from_env,
    provide_mysql,
    provide_valkey,
    stop,
    valkey_from_env,
)
from scripts.servers.docker import (
    container_name,
    docker_available,
    start_mysql_container,
    start_valkey_container,
)
from scripts.servers.mysql_server import (
    MYSQL_PROGRAMS,
    check_mysql,
    create_database,
    mysql_answers,
    mysql_connect,
    start_mysql,
)
from scripts.servers.processes import (
    find_binary,
    free_port,
    pid_alive,
    pip_valkey_binary,
    port_free,
    require_binaries,
    terminate,
    valkey_binary,
    which,
)
from scripts.servers.tls import make_tls_files
from scripts.servers.valkey_server import (
    check_valkey,
    start_valkey,
    start_valkey_cluster,
    start_valkey_tls,
    valkey_answers,
    valkey_client,
    valkey_version,
)

__all__ = [
    "BACKENDS",
    "INSTALL_DOCKER",
    "INSTALL_MYSQL",
    "INSTALL_VALKEY",
    "LOOPBACK",
    "MYSQL_IMAGE",
    "MYSQL_PROGRAMS",
    "VALKEY_IMAGE",
    "Backend",
    "BinaryNotFound",
    "EndpointError",
    "Kind",
    "MysqlServer",
    "PortInUse",
    "ServerError",
    "TlsFiles",
    "ValkeyCluster",
    "ValkeyServer",
    "check_mysql",
    "check_valkey",
    "container_name",
    "create_database",
    "docker_available",
    "env_for",
    "find_binary",
    "free_port",
    "from_dict",
    "is_running",
    "make_tls_files",
    "mysql_answers",
    "mysql_connect",
    "mysql_from_env",
    "pid_alive",
    "pip_valkey_binary",
    "port_free",
    "provide_mysql",
    "provide_valkey",
    "require_binaries",
    "start_mysql",
    "start_mysql_container",
    "start_valkey",
    "start_valkey_cluster",
    "start_valkey_container",
    "start_valkey_tls",
    "stop",
    "terminate",
    "valkey_answers",
    "valkey_binary",
    "valkey_client",
    "valkey_from_env",
    "valkey_version",
    "which",
]
