"""Bytecode for the Lambda runtime's own Python, from whichever source this machine has.

``/var/task`` is read-only in Lambda, so a bundle without ``.pyc`` files compiles every
module it imports on every cold start (measured: 750-1,700 ms instead of about 250 ms).
Bytecode is specific to the interpreter's minor version, so only that version can make
it. The sources, in order:

1. a matching local interpreter (``python3.14`` on the PATH);
2. ``uv`` with a managed Python of that version (``uv run --python 3.14``);
3. the runtime's SAM build image, when a Docker engine answers;
4. the project's Debian root (``scripts/debian_root.py``, which ``make test-shipped``
   builds), when it is on this machine already and this is root: a synth never builds it.

With none of them the synth fails with one line naming the three, unless the caller
accepts a source-only bundle (``-c allow_source_only_bundle=true``: a warning, and slow
cold starts). ``unchecked-hash`` pycs stay valid whatever mtimes the asset zip records.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COMPILEALL = ("-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash")


@dataclass(frozen=True)
class Compiler:
    """How to run ``compileall`` over a directory with the runtime's Python."""

    source: str  # "local", "uv", "docker" or "debian-root"
    command: Callable[[Path], list[str]]
    where: str = ""  # what compiles: an interpreter, a tool, an image, a root


def _local(version: str) -> Compiler | None:
    interpreter = shutil.which(f"python{version}")
    if interpreter is None:
        return None
    return Compiler("local", lambda out: [interpreter, *COMPILEALL, str(out)], where=interpreter)


def _uv(version: str) -> Compiler | None:
    uv = shutil.which("uv")
    if uv is None:
        return None
    probe = [uv, "run", "--no-project", "--python", version, "python", "-c", "print()"]
    if not _succeeds(probe, timeout=600):  # may download the managed interpreter once
        return None
    return Compiler(
        "uv",
        lambda out: [uv, "run", "--no-project", "--python", version, "python", *COMPILEALL,
                     str(out)],
        where=f"{uv} run --python {version}",
    )


def _docker(version: str, image: str) -> Compiler | None:
    docker = shutil.which("docker")
    if docker is None or not _succeeds([docker, "info"], timeout=20):
        return None
    return Compiler(
        "docker",
        lambda out: [docker, "run", "--rm", "--network", "none", "-v", f"{out}:/asset",
                     image, f"python{version}", *COMPILEALL, "/asset"],
        where=image,
    )


def _debian_root(version: str) -> Compiler | None:
    from scripts.debian_root import DebianRoot, Mount

    root = DebianRoot()
    interpreter = f"/usr/bin/python{version}"
    if os.geteuid() != 0 or not root.is_current() or not (root.path / interpreter[1:]).exists():
        return None
    return Compiler(
        "debian-root",
        lambda out: root.command([interpreter, *COMPILEALL, "/asset"], env={},
                                 mounts=[Mount(out, "/asset")]),
        where=f"{interpreter} in {root.path}",
    )


def _succeeds(command: list[str], *, timeout: float) -> bool:
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603 - fixed argv
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def find_compiler(version: str, image: str) -> Compiler | None:
    """The first source of bytecode for Python ``version`` this machine offers."""
    return (_local(version) or _uv(version) or _docker(version, image)
            or _debian_root(version))


def how_to_fix(version: str, image: str) -> str:
    return (
        f"no Python {version} to compile the bundle's bytecode with (without it every cold "
        f"start compiles the code again): install python{version} on the PATH, or uv "
        f"(pip install uv; it fetches Python {version}), or run a Docker engine (image "
        f"{image}), or, as root, build the project's Debian root (make test-shipped); or "
        f"pass -c allow_source_only_bundle=true to deploy without bytecode"
    )


def compile_tree(out: Path, compiler: Compiler) -> None:
    """Write ``.pyc`` files beside every module under ``out``."""
    command = compiler.command(out)
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"compileall via {compiler.source} failed: {' / '.join(detail)}")
    print(f"bundling: bytecode compiled by {compiler.source} ({compiler.where or command[0]})",
          file=sys.stderr)
