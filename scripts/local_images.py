"""Server images built here, for machines whose Docker engine cannot pull the registry's.

``docker-compose.yml`` names ``valkey/valkey:9.1`` and ``mysql:8.4``; where those cannot
be pulled (no route to the registry), the same services run from images made of Debian's
packages: the Debian root of :mod:`scripts.debian_root` is imported once as a base
image, and each service gets its entrypoint (``docker/*-entrypoint.sh``, the registry
images' contract for what this project uses) by ``docker commit``. No Dockerfile: the
engine's legacy builder is deprecated, and nothing here needs a build step.

Images are tagged with a hash of what went into them, so a rebuilt root or a changed
entrypoint makes new ones and an unchanged machine reuses what it has.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.debian_root import DebianRoot, RootError, content_hash

PROJECT = Path(__file__).resolve().parent.parent
ENTRYPOINTS = PROJECT / "docker"
#: Left out of the base image: the test venv, scratch files, package caches, and the
#: datadir the package's own scripts initialized (each container initializes its own).
EXCLUDED = ("./opt/*", "./tmp/*", "./proc/*", "./dev/*", "./sys/*", "./var/lib/mysql/*",
            "./var/cache/apt/*", "./var/lib/apt/lists/*", "./root/.cache")
LABEL = "valkey-caching.local-image=1"


def say(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class LocalImage:
    service: str  # the docker-compose.yml service it stands in for
    entrypoint: str  # file in docker/
    port: int


IMAGES = (
    LocalImage("valkey", "valkey-entrypoint.sh", 6379),
    LocalImage("mysql", "mysql-entrypoint.sh", 3306),
)


def _docker(*args: str, timeout: float = 600, stdin: int | None = None) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True,
                            timeout=timeout, check=False, stdin=stdin)
    if result.returncode != 0:
        raise RootError(f"docker {args[0]} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout.strip()


def image_present(name: str) -> bool:
    try:
        _docker("image", "inspect", "--format", "{{.Id}}", name, timeout=30)
    except RootError:
        return False
    return True


def pull(name: str, timeout: float = 120) -> bool:
    """True if the registry gave us ``name`` (already here counts)."""
    if image_present(name):
        return True
    try:
        _docker("pull", "--quiet", name, timeout=timeout)
    except (RootError, subprocess.TimeoutExpired):
        return False
    return True


def _base_image(root: DebianRoot) -> str:
    stamp = (root.path / ".valkey-caching-root.json").read_bytes()
    tag = f"valkey-caching/debian-base:{hashlib.sha256(stamp).hexdigest()[:12]}"
    if image_present(tag):
        return tag
    began = time.monotonic()
    say(f"importing {root.path} as {tag} (once per root; under a minute)")
    excludes = [f"--exclude={pattern}" for pattern in EXCLUDED]
    tar = subprocess.Popen(["tar", "-C", str(root.path), *excludes, "-c", "."],
                           stdout=subprocess.PIPE)
    try:
        _docker("import", "--change", f"LABEL {LABEL}", "-", tag, stdin=tar.stdout.fileno()
                if tar.stdout else None)
    finally:
        if tar.stdout:
            tar.stdout.close()
        tar.wait()
    say(f"imported in {time.monotonic() - began:.0f} s")
    return tag


def build_image(image: LocalImage, root: DebianRoot) -> str:
    """The local stand-in for ``image.service``: reused if this root and entrypoint made
    it before, else committed now from the base image."""
    script = ENTRYPOINTS / image.entrypoint
    base = _base_image(root)
    tag = f"valkey-caching/{image.service}-local:{content_hash(script)}-{base.split(':')[1]}"
    if image_present(tag):
        return tag
    container = _docker("create", "--label", LABEL, base, "/bin/true", timeout=60)
    try:
        _docker("cp", str(script), f"{container}:/usr/local/bin/docker-entrypoint.sh")
        _docker("commit",
                "--change", 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]',
                "--change", "CMD []",
                "--change", f"EXPOSE {image.port}",
                "--change", f"LABEL {LABEL}",
                container, tag)
    finally:
        _docker("rm", "-f", container, timeout=60)
    say(f"built {tag}")
    return tag


def images_for(services: dict[str, str], *, pull_timeout: float = 120) -> dict[str, str]:
    """``{service: registry image}`` -> ``{service: image to run}``: the registry's when
    it can be pulled, else one built here from Debian's packages."""
    chosen: dict[str, str] = {}
    root: DebianRoot | None = None
    for image in IMAGES:
        wanted = services[image.service]
        if pull(wanted, timeout=pull_timeout):
            chosen[image.service] = wanted
            continue
        say(f"{wanted} cannot be pulled here: building a local {image.service} image")
        root = root or DebianRoot().ensure()
        chosen[image.service] = build_image(image, root)
    return chosen
