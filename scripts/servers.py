"""Start, stop and wait for the real Valkey and MySQL servers used locally and in tests.

`scripts/local_stack.py` and `tests/conftest.py` both call this module, so a developer's
stack and the test harness find and run servers the same way: an endpoint given in the
environment first, then containers when a Docker engine answers, then local binaries.
Every failure is a `ServerError` whose message is one line a human can act on.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import pymysql
import pymysql.cursors
import valkey
from valkey.exceptions import AuthenticationError, ResponseError, ValkeyError

from lambda_app.clients.errors import ConfigError
from lambda_app.settings import Settings

LOOPBACK = "127.0.0.1"
VALKEY_IMAGE = "valkey/valkey:8"
MYSQL_IMAGE = "mysql:8.4"

Kind = Literal["binary", "container", "external"]
Backend = Literal["auto", "docker", "binary"]
BACKENDS: tuple[Backend, ...] = ("auto", "docker", "binary")

INSTALL_VALKEY = (
    "install valkey-server (Debian 12: apt-get install -t bookworm-backports valkey-server; "
    "Ubuntu 24.04+: apt-get install valkey-server; macOS: brew install valkey)"
)
INSTALL_MYSQL = (
    "install mariadb-server (Debian/Ubuntu: apt-get install mariadb-server; "
    "macOS: brew install mariadb)"
)
INSTALL_DOCKER = "or run a Docker engine (docker compose up -d uses valkey/valkey:8 and mysql:8.4)"

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
class ValkeyServer:
    """Where a Valkey server listens and, when we started it, how to stop it."""

    host: str
    port: int
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    kind: Kind = "binary"
    pid: int | None = None
    container: str | None = None
    log_file: str | None = None
    started_in: float | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        scheme = "valkeys" if self.tls else "valkey"
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}{self.host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MysqlServer:
    """Where a MySQL-compatible server listens, who may log in, and how to stop it."""

    host: str
    port: int
    user: str
    password: str
    database: str = "app"
    kind: Kind = "binary"
    flavor: str | None = None
    pid: int | None = None
    container: str | None = None
    log_file: str | None = None
    started_in: float | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Display form; never carries the password."""
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def pid_alive(pid: int) -> bool:
    """True while the process runs; reaps it when it is our own exited child."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def _runs_program(pid: int, programs: Iterable[str]) -> bool:
    """Guard against a recycled pid: the process must be one of our server programs."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid_alive(pid)  # no /proc (macOS): trust the pid file
    return any(program in cmdline for program in programs)


def terminate(pid: int, *, programs: Iterable[str], timeout: float = 15.0) -> bool:
    """SIGTERM (then SIGKILL after `timeout`) a server we started; False if it was gone."""
    if not pid_alive(pid) or not _runs_program(pid, programs):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.02)
    _CHILDREN.pop(pid, None)
    return True


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _log_offset(logfile: Path) -> int:
    return logfile.stat().st_size if logfile.exists() else 0


def _log_since(logfile: Path, offset: int) -> list[str]:
    try:
        with logfile.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace").splitlines()
    except OSError:
        return []


def _wait(
    ready: Callable[[], bool], *, alive: Callable[[], bool], timeout: float, what: str
) -> None:
    """Poll `ready` until it is true; stop early when the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise ServerError(f"{what} exited during start-up")
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServerError(f"{what} did not become ready within {timeout:g} s")
        time.sleep(0.02)


def _start_failure(
    purpose: str, port: int, logfile: Path, offset: int, exc: ServerError
) -> ServerError:
    """Why a server did not come up, from the error lines it logged since `offset`."""
    messages = [
        match["message"].strip()
        for line in _log_since(logfile, offset)
        if (match := _LOG_ERROR[purpose].search(line))
    ]
    if any("Address already in use" in message for message in messages):
        return PortInUse(port, purpose)
    reason = messages[0] if messages else "no error in its log"
    return ServerError(f"{exc}: {reason} (log: {logfile})")


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last line a failed program printed (stderr, else stdout)."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else "no output"


# --------------------------------------------------------------------------- binaries


def _search_dirs() -> list[str]:
    """PATH, plus the sbin sibling of each bin entry: Debian installs mariadbd in /usr/sbin,
    which is often missing from a normal user's PATH."""
    dirs: list[str] = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        dirs.append(entry)
        if entry.endswith("/bin"):
            dirs.append(entry[: -len("bin")] + "sbin")
    return list(dict.fromkeys(dirs))


def which(*names: str) -> str | None:
    for directory in _search_dirs():
        for name in names:
            candidate = Path(directory) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return None


def find_binary(*names: str, hint: str) -> str:
    found = which(*names)
    if found is None:
        raise BinaryNotFound(f"{' / '.join(names)} not found on PATH: {hint}, {INSTALL_DOCKER}")
    return found


def require_binaries(*, valkey_needed: bool, mysql_needed: bool) -> None:
    """One message naming every missing server program and how to install each."""
    missing: list[str] = []
    if valkey_needed and which("valkey-server") is None:
        missing.append(f"valkey-server ({INSTALL_VALKEY})")
    if mysql_needed and which("mariadbd", "mysqld") is None:
        missing.append(f"mariadbd or mysqld ({INSTALL_MYSQL})")
    if missing:
        raise BinaryNotFound(f"not found on PATH: {'; '.join(missing)}; {INSTALL_DOCKER}")


# --------------------------------------------------------------------------- ports


def port_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like the servers themselves: connections in TIME_WAIT do not block a restart.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A free loopback port; `with_bus` also needs port+10000 free (cluster bus)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
        if not with_bus or (port + 10_000 <= 65_535 and port_free(port + 10_000)):
            return port
    raise ServerError("could not find a free loopback port")


def _claim(port: int | None, purpose: str, *, with_bus: bool = False) -> int:
    if port is None:
        return free_port(with_bus=with_bus)
    if not 0 < port < 65_536:
        raise ServerError(f"port {port} for {purpose} is not a port number (1-65535)")
    if not port_free(port):
        raise PortInUse(port, purpose)
    return port


def _with_port_retry(port: int | None, start: Callable[[int | None], R]) -> R:
    """Kernel-chosen ports can be taken by someone else before the server binds: retry;
    a port the user pinned is reported instead."""
    attempts = 1 if port is not None else 3
    for attempt in range(attempts):
        try:
            return start(port)
        except PortInUse:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- Docker


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
    _run_container(name, VALKEY_IMAGE, port=chosen, inner_port=6379, env={},
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
        name, MYSQL_IMAGE, port=chosen, inner_port=3306,
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


def _valkey_tuning(debug: str = "local") -> list[str]:
    """Cache-only settings shared by binaries and containers: no persistence, the
    eviction policy the ElastiCache parameter group sets, DEBUG for fault tests (a
    container sees host clients as remote, so it needs "yes"; it binds to loopback)."""
    return ["--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lfu",
            "--enable-debug-command", debug]


def valkey_client(server: ValkeyServer, *, timeout: float = 2.0, **options: Any) -> valkey.Valkey:
    """A client for `server` with bounded timeouts (valkey-py's default is unbounded)."""
    return valkey.Valkey(
        host=server.host,
        port=server.port,
        password=server.password,
        ssl=server.tls,
        ssl_ca_certs=server.ca_file,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        **options,
    )


def check_valkey(server: ValkeyServer, source: str = "Valkey") -> None:
    """Raise an `EndpointError` naming `source` unless the server answers PING."""
    with contextlib.closing(valkey_client(server, timeout=2.0)) as client:
        _ping(client, server, source)


def _ping(client: valkey.Valkey, server: ValkeyServer, source: str) -> None:
    try:
        client.ping()
    except AuthenticationError:
        raise EndpointError(
            f"Valkey at {server.endpoint} ({source}) rejected the credentials: "
            "check the password"
        ) from None
    except ResponseError as exc:
        raise EndpointError(f"Valkey at {server.endpoint} ({source}) refused PING: {exc}") from None
    except (ValkeyError, OSError) as exc:
        raise EndpointError(
            f"Valkey at {server.endpoint} ({source}) is unreachable: {exc}"
        ) from None


def valkey_answers(server: ValkeyServer) -> bool:
    try:
        check_valkey(server)
    except EndpointError:
        return False
    return True


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate a CA and a server certificate for 127.0.0.1/localhost (valid 30 days)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "valkey-caching local CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.touch(mode=0o600)
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def start_valkey(
    state_dir: Path,
    *,
    port: int | None = None,
    password: str | None = None,
    tls: TlsFiles | None = None,
    cluster: bool = False,
    timeout: float = 10.0,
) -> ValkeyServer:
    """Start a daemonized valkey-server on loopback with its files in `state_dir`.

    `port` None picks a free port (retrying if another process grabs it first); with
    `tls` the port is the TLS port and the plain port is off.
    """
    binary = find_binary("valkey-server", hint=INSTALL_VALKEY)
    state_dir.mkdir(parents=True, exist_ok=True)
    return _with_port_retry(
        port,
        lambda chosen: _launch_valkey(
            binary, state_dir, _claim(chosen, "Valkey", with_bus=cluster),
            password=password, tls=tls, cluster=cluster, timeout=timeout,
        ),
    )


def _launch_valkey(
    binary: str,
    state_dir: Path,
    port: int,
    *,
    password: str | None,
    tls: TlsFiles | None,
    cluster: bool,
    timeout: float,
) -> ValkeyServer:
    pidfile, logfile = state_dir / "valkey.pid", state_dir / "valkey.log"
    running = _read_pid(pidfile)
    if running is not None and pid_alive(running) and _runs_program(running, ["valkey-server"]):
        raise ServerError(f"valkey-server (pid {running}) already runs from {state_dir}")
    pidfile.unlink(missing_ok=True)
    offset = _log_offset(logfile)
    args = [binary, "--bind", LOOPBACK, "--daemonize", "yes", "--pidfile", str(pidfile),
            "--logfile", str(logfile), "--dir", str(state_dir), *_valkey_tuning()]
    if tls is None:
        args += ["--port", str(port)]
    else:
        args += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls.cert_file),
                 "--tls-key-file", str(tls.key_file), "--tls-ca-cert-file", str(tls.ca_file),
                 "--tls-auth-clients", "no"]
    if password:
        args += ["--requirepass", password]
    if cluster:
        (state_dir / "nodes.conf").unlink(missing_ok=True)
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "5000"]
    started = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise ServerError(f"valkey-server failed to start: {_last_line(result)}")
    server = ValkeyServer(
        host=LOOPBACK, port=port, password=password, tls=tls is not None,
        ca_file=str(tls.ca_file) if tls else None, log_file=str(logfile),
    )

    def alive() -> bool:
        pid = _read_pid(pidfile)
        if pid is None:  # the daemon writes its pid file right after forking
            return time.monotonic() - started < 2
        return pid_alive(pid)

    try:
        _wait(lambda: valkey_answers(server), alive=alive, timeout=timeout, what="valkey-server")
    except ServerError as exc:
        pid = _read_pid(pidfile)
        if pid is not None:
            terminate(pid, programs=["valkey-server"])
        raise _start_failure("Valkey", port, logfile, offset, exc) from None
    return replace(server, pid=_read_pid(pidfile), started_in=time.monotonic() - started)


def start_valkey_tls(state_dir: Path, *, port: int | None = None) -> ValkeyServer:
    """A Valkey server speaking only TLS, with a fresh CA in `state_dir/tls`."""
    return start_valkey(state_dir, port=port, tls=make_tls_files(state_dir / "tls"))


def start_valkey_cluster(
    state_dir: Path, *, nodes: int = 3, replicas: int = 0, timeout: float = 30.0
) -> ValkeyCluster:
    """Start `nodes` primaries (and `replicas` replicas of each), join them with
    valkey-cli, wait for ok. With replicas the nodes are primaries first, then replicas."""
    cli = find_binary("valkey-cli", hint=INSTALL_VALKEY)
    started: list[ValkeyServer] = []
    began = time.monotonic()
    try:
        for index in range(nodes * (1 + replicas)):
            started.append(start_valkey(state_dir / f"node{index}", cluster=True))
        result = subprocess.run(
            [cli, "--cluster", "create", *(node.endpoint for node in started),
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"valkey-cli --cluster create failed: {_last_line(result)}")
        _wait(lambda: all(_cluster_ok(node) for node in started), alive=lambda: True,
              timeout=timeout, what="Valkey cluster")
    except BaseException:
        for node in started:
            stop(node)
        raise
    elapsed = time.monotonic() - began
    return ValkeyCluster(tuple(replace(node, started_in=elapsed) for node in started))


def _cluster_ok(node: ValkeyServer) -> bool:
    with contextlib.closing(valkey_client(node, timeout=1.0)) as client:
        try:
            info = client.cluster("info")
        except (ValkeyError, OSError):
            return False
    if isinstance(info, dict):  # valkey-py parses CLUSTER INFO into a dict
        return str(info.get("cluster_state")) == "ok"
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


# --------------------------------------------------------------------------- MySQL


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ServerError(f"{name!r} is not a valid MySQL name (letters, digits, underscores)")
    return name


def mysql_connect(
    server: MysqlServer,
    *,
    database: str | None = None,
    timeout: float = 3.0,
    read_timeout: float = 120.0,
) -> pymysql.connections.Connection[pymysql.cursors.DictCursor]:
    """A PyMySQL connection returning dict rows; `database=""` connects to no database.

    `read_timeout` also bounds the wait for the server's greeting after TCP connects.
    """
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database=server.database if database is None else database,
        charset="utf8mb4",
        cursorclass=pymysql.cursors.DictCursor,
        autocommit=False,
        connect_timeout=timeout,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
    )


def check_mysql(server: MysqlServer, source: str = "MySQL") -> None:
    """Raise an `EndpointError` naming `source` unless we can log in to the database."""
    where = f"MySQL at {server.endpoint} ({source})"
    try:
        mysql_connect(server, timeout=2.0, read_timeout=2.0).close()
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code == 1045:
            raise EndpointError(
                f"{where} rejected user {server.user!r}: wrong password or user"
            ) from None
        if code == 1049:
            raise EndpointError(f"{where} has no database {server.database!r}") from None
        raise EndpointError(f"{where} is unreachable: {exc.args[-1]}") from None
    except (pymysql.err.Error, OSError) as exc:
        raise EndpointError(f"{where} failed: {exc}") from None


def mysql_answers(server: MysqlServer) -> bool:
    try:
        check_mysql(server)
    except EndpointError:
        return False
    return True


@dataclass(frozen=True)
class _MysqlPrograms:
    server: str
    flavor: str  # "mariadb" or "mysql"
    installer: str | None  # mariadb-install-db; MySQL initializes with the server itself


def _mysql_programs() -> _MysqlPrograms:
    server = find_binary("mariadbd", "mysqld", hint=INSTALL_MYSQL)
    version = subprocess.run(
        [server, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    if "mariadb" in version.lower():
        installer = find_binary("mariadb-install-db", "mysql_install_db", hint=INSTALL_MYSQL)
        return _MysqlPrograms(server, "mariadb", installer)
    return _MysqlPrograms(server, "mysql", None)


def _flavor_args(programs: _MysqlPrograms) -> list[str]:
    """MariaDB's default 96 MB redo log is most of a fresh datadir; 16 MB is plenty here.
    MySQL: X Protocol off, else every instance wants port 33060."""
    if programs.flavor == "mariadb":
        return ["--innodb-log-file-size=16M"]
    return ["--mysqlx=OFF"]


def _root_user_args() -> list[str]:
    """mysqld refuses to run as root unless told to (we run as root in containers/CI)."""
    return ["--user=root"] if os.geteuid() == 0 else []


def _initialize(programs: _MysqlPrograms, datadir: Path, logfile: Path) -> None:
    if programs.installer is not None:
        args = [programs.installer, "--no-defaults", "--auth-root-authentication-method=normal",
                f"--datadir={datadir}", "--skip-test-db", "--skip-name-resolve",
                *_flavor_args(programs), *_root_user_args()]
    else:
        args = [programs.server, "--no-defaults", "--initialize-insecure",
                f"--datadir={datadir}", *_root_user_args()]
    with logfile.open("ab") as log:
        result = subprocess.run(args, stdout=log, stderr=log, timeout=180, check=False)
    if result.returncode != 0:
        shutil.rmtree(datadir, ignore_errors=True)
        raise ServerError(f"{Path(args[0]).name} failed to initialize {datadir} (log: {logfile})")


def _credentials(state_dir: Path, user: str) -> str:
    """The password for `user`, generated once per state dir so restarts keep it."""
    path = state_dir / "credentials.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(path.read_text())
        if saved["user"] == user:
            return str(saved["password"])
    password = secrets.token_hex(16)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"user": user, "password": password}))
    return password


def _socket_path(state_dir: Path) -> Path:
    path = state_dir / "mysqld.sock"
    if len(str(path)) < 100:  # sun_path holds 108 bytes
        return path
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"valkey-caching-mysqld-{digest}.sock"


def start_mysql(
    state_dir: Path,
    *,
    port: int | None = None,
    user: str = "app",
    database: str = "app",
    timeout: float = 60.0,
) -> MysqlServer:
    """Start mariadbd (or MySQL's mysqld) on loopback with its datadir in `state_dir`.

    The datadir is initialized once and kept, so a restart keeps the data. A real user
    with a generated password owns everything; TCP root logins are removed.
    """
    began = time.monotonic()
    _checked_name(user)
    _checked_name(database)
    programs = _mysql_programs()
    state_dir.mkdir(parents=True, exist_ok=True)
    datadir, logfile = state_dir / "data", state_dir / "mysqld.log"
    pidfile = state_dir / "mysqld.pid"
    running = _read_pid(pidfile)
    if running is not None and pid_alive(running) and _runs_program(running, MYSQL_PROGRAMS):
        raise ServerError(f"a MySQL server (pid {running}) already runs on {datadir}")
    password = _credentials(state_dir, user)
    if not (datadir / "mysql").is_dir():
        _initialize(programs, datadir, logfile)
    init_file = state_dir / "init.sql"
    init_file.touch(mode=0o600)
    init_file.write_text(_bootstrap_sql(user, password, database))
    server = _with_port_retry(
        port,
        lambda chosen: _launch_mysqld(
            programs, state_dir, _claim(chosen, "MySQL"),
            MysqlServer(host=LOOPBACK, port=0, user=user, password=password,
                        database=database, flavor=programs.flavor, log_file=str(logfile)),
            timeout=timeout,
        ),
    )
    return replace(server, started_in=time.monotonic() - began)  # first start: with init


MYSQL_PROGRAMS = ("mariadbd", "mysqld")


def _bootstrap_sql(user: str, password: str, database: str) -> str:
    """Run by the server at every start (--init-file): one statement per line."""
    return "\n".join(
        [
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}';",
            f"ALTER USER '{user}'@'%' IDENTIFIED BY '{password}';",
            f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION;",
            "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';",
            f"CREATE DATABASE IF NOT EXISTS `{database}` "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;",
            "",
        ]
    )


def _launch_mysqld(
    programs: _MysqlPrograms, state_dir: Path, port: int, server: MysqlServer, *, timeout: float
) -> MysqlServer:
    logfile = state_dir / "mysqld.log"
    server = replace(server, port=port)
    args = [
        programs.server, "--no-defaults", f"--datadir={state_dir / 'data'}",
        f"--socket={_socket_path(state_dir)}", f"--port={port}", f"--bind-address={LOOPBACK}",
        f"--pid-file={state_dir / 'mysqld.pid'}", f"--log-error={logfile}",
        f"--init-file={state_dir / 'init.sql'}", "--skip-name-resolve", "--skip-log-bin",
        "--default-time-zone=+00:00", "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci", "--innodb-flush-log-at-trx-commit=2",
        "--max-connections=500", *_flavor_args(programs), *_root_user_args(),
    ]
    offset = _log_offset(logfile)
    started = time.monotonic()
    with logfile.open("ab") as log:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    _CHILDREN[process.pid] = process
    try:
        _wait(lambda: mysql_answers(server), alive=lambda: process.poll() is None,
              timeout=timeout, what=Path(programs.server).name)
    except ServerError as exc:
        terminate(process.pid, programs=MYSQL_PROGRAMS)
        raise _start_failure("MySQL", port, logfile, offset, exc) from None
    return replace(server, pid=process.pid, started_in=time.monotonic() - started)




def create_database(server: MysqlServer, database: str) -> MysqlServer:
    """Create `database` on `server` if missing; returns the record pointing at it."""
    conn = mysql_connect(server, database="")
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE IF NOT EXISTS `{_checked_name(database)}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()
    return replace(server, database=database)


# --------------------------------------------------------------------------- discovery


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


def env_for(
    valkey_server: ValkeyServer | ValkeyCluster, mysql_server: MysqlServer
) -> dict[str, str]:
    """The settings variables (BRIEF names) that point the app at these servers."""
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
    if node.ca_file:
        env["VALKEY_CA_FILE"] = node.ca_file
    return env
