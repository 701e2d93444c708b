"""A Debian unstable root for running what ships on a machine that has none of it.

The stack ships Python 3.14 (Lambda), Oracle MySQL (RDS) and a jemalloc, TLS-capable
Valkey 9.1 (ElastiCache). A Debian 12 machine has Python 3.11, MariaDB and Valkey 8.
Debian unstable packages all three, so this module builds one root with them
(``debootstrap``, then ``apt-get``) and runs commands in it. Nothing from unstable is
installed on the host: the root is a directory, entered with ``chroot`` inside private
mount and PID namespaces, so its bind mounts vanish and every process it started is
killed when the command ends, whatever way it ends.

The root is built once and kept (``DEBIAN_ROOT_DIR``, default under the user's cache
directory); it is rebuilt when the package list below changes. Building needs root,
``debootstrap`` and a Debian mirror: the one the host's own apt sources name, or
``DEBIAN_MIRROR``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SUITE = "sid"
#: What the root holds, and why: the runtime's Python (and venv for the test
#: dependencies), RDS's engine, ElastiCache's engine as Debian builds it (TLS, jemalloc),
#: git (the suite asks it which files are tracked), and the Docker CLI with Compose v2
#: (the host's engine is driven through its socket: Debian 12 packages no Compose v2).
PACKAGES = (
    "python3.14", "python3.14-venv", "mysql-server", "valkey-server", "valkey-tools",
    "git", "ca-certificates", "docker-cli", "docker-compose",
)
#: The unstable mirror's Release file can be past its Valid-Until date; the packages are
#: still signed and checked. Only this root's apt is told to accept that.
APT_CONF = 'Acquire::Check-Valid-Until "false";\n'
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
STAMP = ".valkey-caching-root.json"
PATH_INSIDE = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RootError(RuntimeError):
    """The root cannot be built or entered; the message says what to do."""


class Unavailable(RootError):
    """This machine cannot do it at all (not root, a tool missing): a reason to skip
    outside CI, not a failure of what was tested."""


def skip_or_fail(what: str, exc: RootError) -> int:
    """Exit status for ``exc``: outside CI a machine that cannot run ``what`` skips it
    with the reason; under ``CI=true``, and for every other error, it fails."""
    in_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    if isinstance(exc, Unavailable) and not in_ci:
        print(f"{what}: skipped: {exc}", file=sys.stderr)
        return 0
    print(f"{what}: {exc}", file=sys.stderr)
    return 2


def default_dir() -> Path:
    chosen = os.environ.get("DEBIAN_ROOT_DIR", "").strip()
    if chosen:
        return Path(chosen)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "valkey-caching" / f"debian-{SUITE}"


def say(message: str) -> None:
    print(f"debian root: {message}", file=sys.stderr, flush=True)


def host_mirror(sources: Sequence[Path] | None = None) -> str:
    """The Debian mirror the host's apt already uses (``DEBIAN_MIRROR`` wins): no mirror
    is named here, so a machine behind its own mirror keeps using it."""
    chosen = os.environ.get("DEBIAN_MIRROR", "").strip()
    if chosen:
        return chosen
    files = sources if sources is not None else [
        Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in files:
        with contextlib.suppress(OSError):
            for match in re.finditer(r"(?m)^(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)(\S+)",
                                     path.read_text()):
                uri = match.group(1).rstrip("/")
                if uri.endswith("/debian"):  # not debian-security, not a PPA
                    return uri
    raise RootError("no Debian mirror in the host's apt sources: set DEBIAN_MIRROR")


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted at ``inside`` (absolute, in the root) for one command."""

    host: Path
    inside: str
    read_only: bool = False


@dataclass
class DebianRoot:
    path: Path = field(default_factory=default_dir)

    # ------------------------------------------------------------------ building

    def wanted(self) -> dict[str, object]:
        return {"suite": SUITE, "packages": list(PACKAGES)}

    def is_current(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return bool(json.loads((self.path / STAMP).read_text()) == self.wanted())
        return False

    def ensure(self) -> DebianRoot:
        """Build the root unless a current one is already there (a lock keeps two runs
        from building it at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path.parent / f".{self.path.name}.lock"):
            if self.is_current():
                return self
            self._build()
        return self

    def _build(self) -> None:
        _require_build_tools()
        began = time.monotonic()
        mirror = host_mirror()
        building = self.path.with_name(self.path.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        say(f"building Debian {SUITE} in {self.path} from {mirror} (once; about a minute)")
        _run(["debootstrap", "--variant=minbase", SUITE, str(building), mirror],
             what="debootstrap", progress=True)
        (building / "etc/apt/apt.conf.d/99valid-until").write_text(APT_CONF)
        # Package scripts must not start services in the root: that is the tests' job.
        policy = building / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        if Path("/etc/resolv.conf").is_file():
            shutil.copyfile("/etc/resolv.conf", building / "etc/resolv.conf")
        staged = DebianRoot(building)
        say(f"installing {' '.join(PACKAGES)}")
        staged.run(["apt-get", "update", "-q"], env={}, what="apt-get update", progress=True)
        staged.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
                   env={"DEBIAN_FRONTEND": "noninteractive"}, what="apt-get install",
                   progress=True)
        staged.run(["apt-get", "clean"], env={}, what="apt-get clean")
        (building / STAMP).write_text(json.dumps(self.wanted()))
        shutil.rmtree(self.path, ignore_errors=True)
        building.rename(self.path)
        say(f"built in {time.monotonic() - began:.0f} s: {', '.join(self.versions())}")

    def versions(self) -> list[str]:
        """What the root ships, as each program reports itself: "Python 3.14.10",
        "MySQL 9.7.4-2", "Valkey 9.1.2 (jemalloc-5.3.1)"."""
        def report(*argv: str) -> list[str]:
            return self.run(argv, env={}, capture=True, what=argv[0]).split()

        python = " ".join(report("python3.14", "--version")[:2])
        mysqld = report("mysqld", "--version")
        mysql = "MySQL " + mysqld[mysqld.index("Ver") + 1] if "Ver" in mysqld else " ".join(mysqld)
        fields = dict(word.split("=", 1) for word in report("valkey-server", "--version")
                      if "=" in word)
        valkey = f"Valkey {fields.get('v', '?')} ({fields.get('malloc', '?')})"
        return [python, mysql, valkey]

    # ------------------------------------------------------------------ entering

    def command(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        mounts: Sequence[Mount] = (),
        workdir: str = "/",
    ) -> list[str]:
        """The host argv that runs ``argv`` in the root with exactly ``env`` (plus PATH,
        HOME, LANG), the host's network, ``/dev``, a fresh ``/proc`` and ``mounts``.
        ``argv`` runs under PID 1 of a new PID namespace (a shell that reaps orphans):
        when it exits, anything it left running is killed by the kernel, and the mounts
        go with the namespace."""
        if os.geteuid() != 0:
            raise Unavailable("entering the Debian root needs root (chroot and mount)")
        inner_env = {"PATH": PATH_INSIDE, "HOME": "/root", "LANG": "C.UTF-8", **env}
        script = _enter_script(self.path, mounts, workdir)
        unshare = shutil.which("unshare") or "/usr/bin/unshare"
        return [unshare, "--mount", "--pid", "--fork", "--kill-child",
                "--propagation", "private", "--", "/bin/sh", "-euc", script, "enter",
                *(f"{key}={value}" for key, value in inner_env.items()), *argv]

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        mounts: Sequence[Mount] = (),
        workdir: str = "/",
        what: str = "command",
        capture: bool = False,
        progress: bool = False,
        check: bool = True,
        timeout: float | None = None,
    ) -> str:
        """Run ``argv`` in the root (:meth:`command`); returns stdout if ``capture``."""
        command = self.command(argv, env=env, mounts=mounts, workdir=workdir)
        return _run(command, what=what, capture=capture, progress=progress, check=check,
                    timeout=timeout)


def _enter_script(root: Path, mounts: Sequence[Mount], workdir: str) -> str:
    """Shell run as PID 1 of the new namespaces: mounts, then chroot + env -i."""
    lines = [f'R="{root}"', "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
             'mount --rbind /dev "$R/dev"', 'mount -t proc proc "$R/proc"']
    # Outer mounts first (a scratch /tmp before a project that lives under /tmp), and each
    # mount point made inside the namespace, on whatever is mounted above it by then.
    for mount in sorted(mounts, key=lambda m: len(PurePosixPath(m.inside).parts)):
        inside = "$R/" + mount.inside.lstrip("/")
        if mount.host.is_dir():
            lines.append(f'mkdir -p "{inside}"')
        else:
            lines.append(f'mkdir -p "$(dirname "{inside}")" && touch "{inside}"')
        lines.append(f'mount --bind "{mount.host}" "{inside}"')
        if mount.read_only:
            lines.append(f'mount -o remount,bind,ro "{inside}"')
    # "$@" is NAME=VALUE... then argv (whose first word has no "="). PID 1 is a shell
    # that waits: it reaps what the command orphans, as init does on the host.
    lines.append(f'exec chroot "$R" /bin/sh -c \'"$@" & wait "$!"\' init '
                 f'/usr/bin/env -i -C "{workdir}" -- "$@"')
    return "\n".join(lines)


def _run(
    command: Sequence[str],
    *,
    what: str,
    capture: bool = False,
    progress: bool = False,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run a host command; output is shown (``progress``), captured, or kept for the
    error. A timeout kills its whole process group."""
    stdout = None if progress else subprocess.PIPE
    process = subprocess.Popen(
        list(command), stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=subprocess.STDOUT if not capture and not progress else None,
        text=True, start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait()
        raise RootError(f"{what} timed out after {timeout:g} s") from None
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait()
        raise
    if check and process.returncode != 0:
        tail = "" if out is None else " / ".join(out.strip().splitlines()[-5:])
        raise RootError(f"{what} failed (exit {process.returncode}){': ' + tail if tail else ''}")
    return out or ""


def _require_build_tools() -> None:
    if os.geteuid() != 0:
        raise Unavailable("building the Debian root needs root (debootstrap, chroot)")
    missing = [tool for tool in ("debootstrap", "unshare", "chroot") if not shutil.which(tool)]
    if missing:
        raise Unavailable(f"missing {', '.join(missing)}: apt-get install debootstrap")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def content_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A host directory for one command's /tmp, removed after (pytest and the servers
    write their files there, so none stay in the root)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
