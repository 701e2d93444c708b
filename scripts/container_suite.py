"""The container path, for real: the project's own orchestration against a Docker engine.

    python -m scripts.container_suite

1. A Docker engine: the one that answers, else ``dockerd`` started here (root; stopped
   again at the end, with only what it started).
2. The images ``docker-compose.yml`` names, pulled; where the registry is out of reach,
   built from Debian's packages (:mod:`scripts.local_images`) and passed to both paths as
   ``VALKEY_IMAGE``/``MYSQL_IMAGE``.
3. ``docker compose up --wait`` with the compose file as README shows it, a slice of the
   suite against those servers, ``docker compose down``.
4. The same slice with no endpoint given, so the test harness starts its own containers
   (``scripts/servers/docker.py``), plus the ``local_stack --backend docker`` test.
5. Nothing left: every container, network and volume either step made is gone, even
   when a test failed; anything found is removed and fails the run.

Compose v2 comes from the engine's CLI when it has the plugin, else from the Debian root
(:mod:`scripts.debian_root`; Debian 12 packages no Compose v2), talking to the host's
engine through its socket.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from scripts.debian_root import DebianRoot, Mount, RootError, Unavailable, skip_or_fail
from scripts.local_images import images_for
from scripts.servers.base import COMPOSE_FILE, compose_image, image_variable
from scripts.servers.processes import free_port

PROJECT = Path(__file__).resolve().parent.parent
SOCKET = Path("/var/run/docker.sock")
#: What runs against the containers: the data layer, the caching patterns and the API
#: over real HTTP, the parts whose behaviour depends on the servers.
SLICE = ("tests/integration/test_repositories.py", "tests/integration/test_migrations.py",
         "tests/integration/caching/test_read_cache_aside.py",
         "tests/integration/caching/test_write_through.py",
         "tests/integration/caching/test_write_rate_limit.py",
         "tests/integration/api/test_products.py", "tests/integration/api/test_logins.py",
         "tests/e2e/test_api_http.py")
CONTAINER_TEST = "tests/e2e/test_container_path.py"
#: Containers the harness starts carry this label (scripts/servers/docker.py).
HARNESS_LABEL = "valkey-caching.local=1"
REQUIRED_ENV = "VALKEY_CACHING_CONTAINERS"
#: Compose projects of this suite (never a developer's own ``valkey-caching`` project).
COMPOSE_PREFIX = "valkey-caching-ci-"


def say(message: str) -> None:
    print(f"containers: {message}", file=sys.stderr, flush=True)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return _docker("info", "--format", "{{.ServerVersion}}", timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextlib.contextmanager
def docker_engine(state: Path) -> Iterator[None]:
    """An engine for the run: the one that answers, else dockerd started (and stopped)."""
    if engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd")
                                          .exists() else None)
    if dockerd is None or os.geteuid() != 0:
        raise Unavailable("no Docker engine answers, and starting one needs root and dockerd "
                          "(apt-get install docker.io)")
    state.mkdir(parents=True, exist_ok=True)
    log = (state / "dockerd.log").open("ab")
    say(f"starting dockerd (log: {state / 'dockerd.log'})")
    process = subprocess.Popen([dockerd], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not engine_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RootError(f"dockerd did not answer (log: {state / 'dockerd.log'})")
            time.sleep(0.5)
        yield
    finally:
        say("stopping the dockerd this run started")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


class Compose:
    """``docker compose`` for one project name: the engine's plugin, else the root's."""

    def __init__(self, project: str, env: Mapping[str, str]) -> None:
        self.project, self.env = project, dict(env)
        self.host = _docker("compose", "version").returncode == 0
        self.root = None if self.host else DebianRoot().ensure()

    def __call__(self, *args: str, timeout: float = 300) -> None:
        argv = ["docker", "compose", "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        if self.root is None:
            result = subprocess.run(argv, env={**os.environ, **self.env}, text=True,
                                    capture_output=True, timeout=timeout, check=False)
            if result.returncode != 0:
                raise RootError(f"docker compose {args[0]} failed: {result.stderr.strip()}")
            return
        self.root.run(
            argv, env={**self.env, "DOCKER_HOST": "unix:///run/host-docker.sock"},
            mounts=[Mount(PROJECT, str(PROJECT), read_only=True),
                    Mount(SOCKET, "/run/host-docker.sock")],
            what=f"docker compose {args[0]}", timeout=timeout,
        )


def _pytest(args: Sequence[str], env: Mapping[str, str]) -> bool:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("VALKEY_", "DB_", "TEST_VALKEY", "TEST_DB"))}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, env={**clean, **env}, cwd=PROJECT,
                          check=False).returncode == 0


def compose_pass(images: Mapping[str, str]) -> bool:
    project = f"{COMPOSE_PREFIX}{secrets.token_hex(4)}"
    valkey_port, db_port = free_port(), free_port()
    root_password = secrets.token_hex(12)
    env = {image_variable("valkey"): images["valkey"], image_variable("mysql"): images["mysql"],
           "VALKEY_PORT": str(valkey_port), "DB_PORT": str(db_port),
           "DB_ROOT_PASSWORD": root_password}
    compose = Compose(project, env)
    say(f"compose: up --wait ({project}: valkey 127.0.0.1:{valkey_port}, "
        f"mysql 127.0.0.1:{db_port})")
    began = time.monotonic()
    try:
        compose("up", "-d", "--wait")
        say(f"compose: healthy in {time.monotonic() - began:.0f} s; the slice against it")
        return _pytest(SLICE, {
            "TEST_VALKEY_URL": f"valkey://127.0.0.1:{valkey_port}",
            "TEST_DB_HOST": "127.0.0.1", "TEST_DB_PORT": str(db_port),
            "TEST_DB_USER": "root", "TEST_DB_PASSWORD": root_password, "TEST_DB_NAME": "app",
        })
    finally:
        compose("down", "--volumes", "--remove-orphans")
        say("compose: down")


def harness_pass(images: Mapping[str, str]) -> bool:
    say("harness: the slice with containers started by scripts/servers/docker.py")
    env = {image_variable("valkey"): images["valkey"], image_variable("mysql"): images["mysql"],
           REQUIRED_ENV: "required", "TEST_SERVER_BACKEND": "docker"}
    return _pytest([*SLICE, CONTAINER_TEST, "-m", "not cluster"], env)


def ours() -> set[str]:
    """Containers the harness labels, and containers, networks and volumes of this
    suite's compose projects, as "kind name"."""
    found: set[str] = set()
    for name in _docker("ps", "-a", "--filter", f"label={HARNESS_LABEL}",
                        "--format", "{{.Names}}").stdout.split():
        found.add(f"container {name}")
    for kind, command, field in (("container", ["ps", "-a"], "{{.Names}}"),
                                 ("network", ["network", "ls"], "{{.Name}}"),
                                 ("volume", ["volume", "ls"], "{{.Name}}")):
        listed = _docker(*command, "--filter", "label=com.docker.compose.project",
                         "--format", field)
        found.update(f"{kind} {name}" for name in listed.stdout.split()
                     if name.startswith(COMPOSE_PREFIX))
    return found


def _remove(found: Sequence[str]) -> None:
    for entry in found:
        kind, name = entry.split(" ", 1)
        _docker(*(["rm", "-f"] if kind == "container" else [kind, "rm"]), name)


def run(state: Path) -> int:
    began = time.monotonic()
    with docker_engine(state):
        before = ours()  # a developer's own stack among them stays untouched
        wanted = {"valkey": compose_image("valkey", {}), "mysql": compose_image("mysql", {})}
        images = images_for(wanted)
        say(f"images: valkey {images['valkey']}, mysql {images['mysql']}")
        ok = compose_pass(images)
        ok = harness_pass(images) and ok
        left = sorted(ours() - before)
        if left:
            say(f"FAILED: left behind: {', '.join(left)} (removed now)")
            _remove(left)
            ok = False
    say(f"{'passed' if ok else 'FAILED'} in {time.monotonic() - began:.0f} s")
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.container_suite",
        description="Run the container path (docker compose and the harness's containers) "
                    "with a slice of the suite, and check nothing is left behind.")
    parser.add_argument("--state-dir", type=Path, default=PROJECT / ".local" / "containers",
                        help="where dockerd's log goes when this run starts one")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args.state_dir)
    except subprocess.TimeoutExpired as exc:
        print(f"container suite: {exc}", file=sys.stderr)
        return 2
    except RootError as exc:
        return skip_or_fail("container suite", exc)


if __name__ == "__main__":
    sys.exit(main())
