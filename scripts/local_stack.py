"""Run the local Valkey and MySQL servers the app, the demo and the benchmarks use.

    .venv/bin/python -m scripts.local_stack up      # start both (idempotent), state in .local/
    eval "$(.venv/bin/python -m scripts.local_stack env)"   # or: eval "$(make -s env)"
    .venv/bin/python -m scripts.local_stack status [--json]
    .venv/bin/python -m scripts.local_stack down

Discovery: endpoints named in the environment (VALKEY_URL or VALKEY_HOST/PORT, DB_HOST/
DB_PORT with DB_USER/DB_PASSWORD/DB_NAME) are checked and used as they are; otherwise
containers when a Docker engine answers; otherwise local binaries. Servers are daemons
that outlive this command; their ports go to <state dir>/stack.json and `up` reuses them
when free, so an exported environment stays valid across `down`/`up`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeAlias

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import servers

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = "stack.json"

Server: TypeAlias = servers.ValkeyServer | servers.MysqlServer
FromEnv: TypeAlias = Callable[[Mapping[str, str]], Server | None]
#: Per service: the endpoint the environment names, how a server is provided, `up`'s port flag.
_SERVICES: dict[str, tuple[FromEnv, Callable[..., Server], str]] = {
    "valkey": (servers.valkey_from_env, servers.provide_valkey, "valkey_port"),
    "mysql": (servers.mysql_from_env, servers.provide_mysql, "db_port"),
}
SERVICES = tuple(_SERVICES)


@dataclass
class Stack:
    """What `up` recorded: the last known server of each service (None: never started)."""

    valkey: servers.ValkeyServer | None = None
    mysql: servers.MysqlServer | None = None


def default_state_dir() -> Path:
    return Path(os.environ.get("LOCAL_STACK_DIR") or REPO_ROOT / ".local")


def load_stack(state_dir: Path) -> Stack:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return Stack()
    except (OSError, ValueError) as exc:
        raise servers.ServerError(f"cannot read {path}: {exc}") from None
    try:
        return Stack(
            valkey=servers.from_dict(servers.ValkeyServer, data["valkey"])
            if data.get("valkey") else None,
            mysql=servers.from_dict(servers.MysqlServer, data["mysql"])
            if data.get("mysql") else None,
        )
    except (TypeError, AttributeError) as exc:
        raise servers.ServerError(f"{path} is not a stack file ({exc}); remove it") from None


def save_stack(state_dir: Path, stack: Stack) -> None:
    """Written 0600: it holds the generated database password."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    path.touch(mode=0o600)
    path.write_text(json.dumps({
        "valkey": stack.valkey.to_dict() if stack.valkey else None,
        "mysql": stack.mysql.to_dict() if stack.mysql else None,
    }, indent=2) + "\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65_536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return port


# --------------------------------------------------------------------------- up


def _ours(given: Server | None, recorded: Server | None) -> bool:
    """The environment names the server we started last time (e.g. after `eval env`)."""
    return (
        given is not None
        and recorded is not None
        and recorded.kind != "external"
        and (given.host, given.port) == (recorded.host, recorded.port)
    )


def _must_start(recorded: Server | None, given: Server | None) -> bool:
    running = recorded is not None and servers.is_running(recorded)
    return not running and (given is None or _ours(given, recorded))


def _reusable_port(recorded: Server | None) -> int | None:
    """The port of the server we ran last time, if it is free again."""
    if recorded is None or recorded.kind == "external":
        return None
    return recorded.port if servers.port_free(recorded.port) else None


def _start(args: argparse.Namespace, name: str, recorded: Server | None,
           environ: Mapping[str, str]) -> Server:
    """The endpoint the environment names, unless it is the one we started last time;
    else start one, on the pinned port, the named one, or last time's if free."""
    from_env, provide, port_flag = _SERVICES[name]
    given = from_env(environ)
    if given is not None and not _ours(given, recorded):
        return provide(args.state_dir, external=given)
    port = getattr(args, port_flag) or (given.port if given else None) or _reusable_port(recorded)
    return provide(args.state_dir, backend=args.backend, port=port)


def _describe(server: Server) -> str:
    origin: str = server.kind
    if isinstance(server, servers.MysqlServer) and server.flavor:
        origin += f" {server.flavor}"
    if server.pid is not None:
        origin += f", pid {server.pid}"
    if server.container:
        origin = f"container {server.container}"
    return f"{server.url}  ({origin})"


def _needs_binaries(args: argparse.Namespace, stack: Stack, environ: Mapping[str, str]) -> None:
    """Before starting anything: one message for every missing program."""
    if args.backend == "docker" or (args.backend == "auto" and servers.docker_available()):
        return
    servers.require_binaries(
        valkey_needed=_must_start(stack.valkey, servers.valkey_from_env(environ)),
        mysql_needed=_must_start(stack.mysql, servers.mysql_from_env(environ)),
    )


def cmd_up(args: argparse.Namespace) -> int:
    stack = load_stack(args.state_dir)
    environ = os.environ
    _needs_binaries(args, stack, environ)
    for name in SERVICES:
        server = getattr(stack, name)
        if server and servers.is_running(server):
            print(f"{name:<7} already running  {_describe(server)}", flush=True)
            given = _SERVICES[name][0](environ)
            if given is not None and not _ours(given, server) and (
                (given.host, given.port) != (server.host, server.port)
            ):
                print(f"{name:<7} note: the environment names {given.url}, which the "
                      f"running stack overrides; `{_self_command(args)} down` first to use "
                      "it", flush=True)
            continue
        server = _start(args, name, server, environ)
        setattr(stack, name, server)
        save_stack(args.state_dir, stack)
        print(f"{name:<7} {_verb(server)}  {_describe(server)}", flush=True)
    if stack.mysql is not None and stack.mysql.kind != "external":
        _grant_serving_user(stack.mysql)
    print(f'load the settings: eval "$({_self_command(args)} env)"')
    return 0


def _grant_serving_user(mysql: servers.MysqlServer) -> None:
    """Migrate as the owner, then give the serving user its row-only grants: the app runs
    locally as the user the migrator creates on AWS, not as the owner."""
    from lambda_app.data.migrations import migrate

    servers.create_database(mysql, mysql.database)
    conn = servers.mysql_connect(mysql)
    try:
        migrate(conn)
    finally:
        conn.close()
    runtime = servers.grant_runtime_user(mysql)
    print(f"mysql   the app serves as {runtime.user}: row access only, as on AWS", flush=True)


def _verb(server: Server) -> str:
    if server.kind == "external":
        return "using"
    return f"started in {server.started_in or 0:.2f} s"


def _self_command(args: argparse.Namespace) -> str:
    """This command as it runs now: with the interpreter that has the dependencies (a bare
    ``python`` outside the venv cannot import them), from the project's root."""
    interpreter = Path(sys.executable)
    with contextlib.suppress(ValueError):
        interpreter = interpreter.relative_to(Path.cwd())
    command = f"{shlex.quote(str(interpreter))} -m scripts.local_stack"
    if args.state_dir != default_state_dir().resolve():
        command += f" --state-dir {shlex.quote(str(args.state_dir))}"
    return command


# --------------------------------------------------------------------------- down/status/env


def cmd_down(args: argparse.Namespace) -> int:
    stack = load_stack(args.state_dir)
    for name in SERVICES:
        server = getattr(stack, name)
        if server is None:
            print(f"{name:<7} not started")
        elif server.kind == "external":
            print(f"{name:<7} external {server.endpoint} left running")
        elif servers.stop(server):
            print(f"{name:<7} stopped ({server.endpoint})")
        else:
            print(f"{name:<7} was not running")
        if server is not None and server.kind != "external":
            setattr(stack, name, replace(server, pid=None))  # keep the port for the next up
    if stack.valkey or stack.mysql:
        save_stack(args.state_dir, stack)
    return 0


def _status(stack: Stack) -> dict[str, dict[str, Any]]:
    report: dict[str, dict[str, Any]] = {}
    for name in SERVICES:
        server = getattr(stack, name)
        if server is None:
            report[name] = {"state": "not started"}
            continue
        running = servers.is_running(server)
        report[name] = {
            "state": "running" if running else "stopped",
            "kind": server.kind,
            "url": server.url,
            "host": server.host,
            "port": server.port,
            "pid": server.pid if running else None,
        }
    return report


def cmd_status(args: argparse.Namespace) -> int:
    report = _status(load_stack(args.state_dir))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, item in report.items():
            where = f"  {item['url']}  ({item['kind']})" if "url" in item else ""
            print(f"{name:<7} {item['state']}{where}")
    return 0 if all(item["state"] == "running" for item in report.values()) else 1


def cmd_env(args: argparse.Namespace) -> int:
    stack = load_stack(args.state_dir)
    for name in SERVICES:
        server = getattr(stack, name)
        if server is None or not servers.is_running(server):
            raise servers.ServerError(
                f"{name} is not running; start the stack with: {_self_command(args)} up"
            )
    assert stack.valkey is not None and stack.mysql is not None
    if stack.mysql.kind == "external":
        env = servers.env_for(stack.valkey, stack.mysql)
    else:  # serve as the restricted user; the owner only for the tools that migrate
        env = servers.env_for(stack.valkey, servers.runtime_user(stack.mysql),
                              admin=stack.mysql)
    if args.json:
        print(json.dumps(env, indent=2))
    else:
        print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items()))
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="local_stack.py", description="Local Valkey + MySQL servers for development."
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None,
        help="where servers keep their files and stack.json (default: $LOCAL_STACK_DIR or .local)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start both servers (reports those already running)")
    up.add_argument("--valkey-port", type=_port, help="listen on this port (default: free one)")
    up.add_argument("--db-port", type=_port, help="listen on this port (default: free one)")
    up.add_argument("--backend", choices=servers.BACKENDS, default="auto",
                    help="auto: containers when Docker answers, else binaries")
    up.set_defaults(handler=cmd_up)
    commands.add_parser("down", help="stop the servers up started").set_defaults(handler=cmd_down)
    for name, handler, text in (("status", cmd_status, "report each server (exit 1 if one is "
                                 "not running)"), ("env", cmd_env, "print the settings as "
                                 "shell exports")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--json", action="store_true", help="print JSON instead")
        sub.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.state_dir = (args.state_dir or default_state_dir()).resolve()
    try:
        code: int = args.handler(args)
    except BrokenPipeError:  # `... | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (servers.ServerError, OSError) as exc:
        hint = ""
        if isinstance(exc, servers.PortInUse):
            hint = "; choose another port (--valkey-port/--db-port) or omit it for a free one"
        print(f"local_stack: {exc}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("local_stack: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
