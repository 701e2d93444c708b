"""MySQL-compatible servers: MariaDB's or MySQL's ``mysqld`` in a datadir of our own, with
a generated user, and the connections and databases the tests and the stack use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pymysql
import pymysql.cursors

from scripts.servers.base import (
    _CHILDREN,
    _NAME,
    INSTALL_MYSQL,
    LOOPBACK,
    EndpointError,
    MysqlServer,
    ServerError,
    TlsFiles,
)
from scripts.servers.processes import (
    _claim,
    _log_offset,
    _read_pid,
    _runs_program,
    _start_failure,
    _wait,
    _with_port_retry,
    find_binary,
    pid_alive,
    terminate,
)


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
        ssl={"ca": server.ca_file} if server.ca_file else None,
        ssl_disabled=not server.ca_file,  # no opportunistic, unverified TLS per connection
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
    tls: TlsFiles | None = None,
) -> MysqlServer:
    """Start mariadbd (or MySQL's mysqld) on loopback with its datadir in `state_dir`.

    The datadir is initialized once and kept, so a restart keeps the data. A real user
    with a generated password owns everything; TCP root logins are removed. With
    ``tls``, the server requires TLS on every connection, as RDS Proxy does.
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
                        database=database, flavor=programs.flavor, log_file=str(logfile),
                        ca_file=str(tls.ca_file) if tls else None),
            timeout=timeout, tls=tls,
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
    programs: _MysqlPrograms,
    state_dir: Path,
    port: int,
    server: MysqlServer,
    *,
    timeout: float,
    tls: TlsFiles | None = None,
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
    if tls is not None:
        args += [f"--ssl-ca={tls.ca_file}", f"--ssl-cert={tls.cert_file}",
                 f"--ssl-key={tls.key_file}", "--require-secure-transport=ON"]
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




#: The restricted user the app serves as, locally and in the tests: the one the migrator
#: creates on AWS (``lambda_app.data.app_user``), with the same grants.
RUNTIME_USER = "app_runtime"


def runtime_user(server: MysqlServer) -> MysqlServer:
    """The record of the serving user on ``server``'s database (no I/O): its password is
    derived from the owner's, so every tool finds the same one without saving it."""
    password = hashlib.sha256(f"{server.password}:{RUNTIME_USER}".encode()).hexdigest()[:32]
    return replace(server, user=RUNTIME_USER, password=password)


def grant_runtime_user(server: MysqlServer) -> MysqlServer:
    """Create or refresh the serving user's grants on ``server``'s migrated database, as
    its owner; the serving user's record."""
    from lambda_app.data.app_user import ensure_app_user

    runtime = runtime_user(server)
    conn = mysql_connect(server)
    try:
        ensure_app_user(conn, username=runtime.user, password=runtime.password,
                        database=server.database)
    finally:
        conn.close()
    return runtime


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


