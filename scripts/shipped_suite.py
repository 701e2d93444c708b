"""The suite again on what ships: Python 3.14, Oracle MySQL, Debian's Valkey (TLS, jemalloc).

    python -m scripts.shipped_suite                # unit, integration and e2e tests
    python -m scripts.shipped_suite -- -k login    # pytest arguments after --
    python -m scripts.shipped_suite --run -- python -m bench --only memory

Runs in the Debian root of :mod:`scripts.debian_root` (built on first use), with a
Python 3.14 venv of the project's pinned requirements kept in it and rebuilt when they
change. The tests start their servers from the root's packages, as they do from the
host's: ``mysqld`` is Oracle MySQL, ``valkey-server`` is Debian's build. The CDK tests
(``infra``) stay on the host: they need Node and test templates, not the runtime. Then,
on the host, a bundling build of the Lambda asset must take its bytecode from the root's
Python 3.14.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.debian_root import (
    HOST_CA,
    DebianRoot,
    Mount,
    RootError,
    content_hash,
    say,
    scratch_dir,
    skip_or_fail,
)

PROJECT = Path(__file__).resolve().parent.parent
VENV = "/opt/venv-shipped"
CA_INSIDE = "/etc/host-ca.crt"
#: Not here: the CDK tests (Node and templates, not the runtime) and the docs-commands
#: test, which runs README's commands with the host's toolchain (.venv, npx, curl).
DEFAULT_PYTEST = ("-q", "-m", "not infra", "-p", "no:cacheprovider",
                  "--ignore", "tests/e2e/test_docs_commands.py")
#: Package-index settings a machine may need, passed through when they are network URLs
#: (a file:// index on the host does not exist in the root).
PIP_PASSTHROUGH = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
                   "PIP_DEFAULT_TIMEOUT", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                   "http_proxy", "NO_PROXY", "no_proxy")


def _project_mount() -> Mount:
    return Mount(PROJECT, str(PROJECT))


def _ca_env(mounts: list[Mount]) -> dict[str, str]:
    """Trust what the host trusts (a TLS-intercepting proxy's CA among it), read-only."""
    if not HOST_CA.is_file():
        return {}
    mounts.append(Mount(HOST_CA, CA_INSIDE, read_only=True))
    return {"PIP_CERT": CA_INSIDE, "SSL_CERT_FILE": CA_INSIDE, "REQUESTS_CA_BUNDLE": CA_INSIDE}


def _pip_env() -> dict[str, str]:
    chosen = {}
    for name in PIP_PASSTHROUGH:
        value = os.environ.get(name, "").strip()
        if value and "file://" not in value:
            chosen[name] = value
    return chosen


def ensure_venv(root: DebianRoot) -> str:
    """The root's Python 3.14 venv with requirements/dev.txt; reused while they match."""
    requirements = [PROJECT / "requirements" / name for name in ("lambda.txt", "dev.txt")]
    stamp = f"{VENV}/.requirements-{content_hash(*requirements)}"
    if (root.path / stamp.lstrip("/")).is_file():
        return VENV
    mounts = [_project_mount()]
    env = {**_ca_env(mounts), **_pip_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    began = time.monotonic()
    say(f"creating the Python 3.14 venv {VENV} (pinned requirements; about a minute)")
    root.run(["rm", "-rf", VENV], env={}, what="rm")
    root.run(["python3.14", "-m", "venv", VENV], env={}, what="venv")
    root.run([f"{VENV}/bin/python", "-m", "pip", "install", "--progress-bar", "off",
              "-q", "-r", str(PROJECT / "requirements" / "dev.txt")],
             env=env, mounts=mounts, what="pip install", progress=True)
    root.run(["touch", stamp], env={}, what="stamp")
    say(f"venv ready in {time.monotonic() - began:.0f} s")
    return VENV


def _shipped_env(venv: str, mounts: list[Mount]) -> dict[str, str]:
    env = {
        **_ca_env(mounts),
        "PYTHONDONTWRITEBYTECODE": "1",
        # Debian's build (TLS, jemalloc) for every Valkey the tests start, TLS ones too.
        "VALKEY_SERVER_BINARY": "/usr/bin/valkey-server",
        "PATH": f"{venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    for name in ("CI", "TERM", "COLUMNS"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def run_command(argv: Sequence[str]) -> int:
    """Any command (a benchmark, say) in the root, as the suite runs there."""
    root = DebianRoot().ensure()
    venv = ensure_venv(root)
    say("running on " + "; ".join(root.versions()) + ": " + " ".join(argv))
    mounts = [_project_mount()]
    env = _shipped_env(venv, mounts)
    with scratch_dir("valkey-caching-shipped-") as tmp:
        mounts.append(Mount(tmp, "/tmp"))
        try:
            root.run(argv, env=env, mounts=mounts, workdir=str(PROJECT), what=argv[0],
                     progress=True)
        except RootError as exc:
            say(str(exc))
            return 1
    return 0


def run_suite(pytest_args: Sequence[str]) -> int:
    root = DebianRoot().ensure()
    venv = ensure_venv(root)
    say("the suite on " + "; ".join(root.versions()))
    mounts = [_project_mount()]
    env = _shipped_env(venv, mounts)
    with scratch_dir("valkey-caching-shipped-") as tmp:
        mounts.append(Mount(tmp, "/tmp"))
        began = time.monotonic()
        try:
            root.run([f"{venv}/bin/python", "-m", "pytest", *pytest_args], env=env,
                     mounts=mounts, workdir=str(PROJECT), what="pytest", progress=True)
        except RootError as exc:
            say(f"{exc} after {time.monotonic() - began:.0f} s")
            return 1
    say(f"passed in {time.monotonic() - began:.0f} s")
    return bundle_check()


def bundle_check() -> int:
    """On the host: a bundling build of the Lambda asset takes its bytecode from the
    root's Python 3.14 (tests/infra/test_shipped_bundle.py, required to run here)."""
    say("a bundling build ships Python 3.14 bytecode (tests/infra/test_shipped_bundle.py)")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/infra/test_shipped_bundle.py"],
        env={**os.environ, "VALKEY_CACHING_SHIPPED": "required"}, cwd=PROJECT, check=False)
    return 0 if result.returncode == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.shipped_suite",
        description="Run the test suite on Python 3.14, Oracle MySQL and Debian's Valkey, "
                    "in a Debian unstable root built on first use (needs root).")
    parser.add_argument("--run", action="store_true",
                        help="run the command after -- in the root instead of pytest "
                        "(e.g. -- python -m bench --only memory)")
    parser.add_argument("pytest_args", nargs="*", help="pytest arguments, or with --run the "
                        "command (after --)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.run:
            if not args.pytest_args:
                build_parser().error("--run needs a command after --")
            return run_command(args.pytest_args)
        return run_suite(args.pytest_args or DEFAULT_PYTEST)
    except RootError as exc:
        return skip_or_fail("shipped suite", exc)


if __name__ == "__main__":
    sys.exit(main())
