"""Cold start: what importing the API handler costs (``python -X importtime``).

Runs ``python -X importtime -c "import lambda_app.handlers.api"`` in fresh interpreters
and sums the ``self`` column (every module imported, each counted once). Two settings:

* as installed: third-party bytecode compiled by pip, the project's sources compiled or
  not depending on whether ``__pycache__`` exists (``make`` sets
  ``PYTHONDONTWRITEBYTECODE``) - the brief's measurement;
* no bytecode at all (``PYTHONPYCACHEPREFIX`` pointing at an empty directory): every
  module, the standard library included, is compiled from source. An upper bound for
  Lambda with a source-only bundle (``infra.bundling`` adds bytecode only where the
  runtime's Python is installed) in a read-only ``/var/task`` (the runtime's own standard
  library does have bytecode).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.context import Context, Stopwatch, now_utc
from bench.report import Check, Section, Table, fmt_ms

NAME = "cold_start"
TITLE = "Cold start: importing the API handler"
MODULE = "lambda_app.handlers.api"
TARGET_MS = 300.0
ROOT = Path(__file__).resolve().parent.parent


STDLIB = "(standard library)"


@dataclass(frozen=True)
class ImportProfile:
    total_s: float  # sum of every module's own import time
    wall_s: float  # the whole interpreter run
    by_package: dict[str, float]  # own import seconds summed per top-level package


class ImportFailed(RuntimeError):
    """The module does not import; the message is the interpreter's last error line."""


def parse_importtime(stderr: str) -> list[tuple[str, float]]:
    """``[(module, self µs)]`` from ``-X importtime`` output (header and noise skipped)."""
    modules = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        modules.append((fields[2].strip(), float(fields[0])))
    return modules


def by_package(modules: list[tuple[str, float]]) -> dict[str, float]:
    """Own time summed per top-level package; the standard library as one entry."""
    totals: dict[str, float] = {}
    for name, own in modules:
        root = name.split(".")[0]
        if root in sys.stdlib_module_names or root.startswith("_"):
            root = STDLIB
        totals[root] = totals.get(root, 0.0) + own
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))


#: How to start an interpreter: this one on the host, or another (the runtime's) elsewhere.
Launcher = Callable[[list[str]], list[str]]


def profile(module: str, env: Mapping[str, str], *, isolated: bool = False,
            launcher: Launcher | None = None) -> ImportProfile:
    """``isolated``: no site-packages (``-S``), only what ``PYTHONPATH`` names."""
    flags = ["-S"] if isolated else []
    args = [*flags, "-X", "importtime", "-c", f"import {module}"]
    command = launcher(args) if launcher else [sys.executable, *args]
    with Stopwatch() as watch:
        result = subprocess.run(
            command, capture_output=True, text=True, env=dict(env), cwd=ROOT, check=False,
            timeout=120,
        )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines()
                  if line and not line.startswith("import time:")]
        raise ImportFailed(errors[-1] if errors else f"exit status {result.returncode}")
    modules = parse_importtime(result.stderr)
    return ImportProfile(
        total_s=sum(own for _, own in modules) / 1e6,
        wall_s=watch.seconds,
        by_package={name: us / 1e6 for name, us in by_package(modules).items()},
    )


def profiles(
    module: str, env: Mapping[str, str], runs: int, *, isolated: bool = False,
    launcher: Launcher | None = None,
) -> list[ImportProfile]:
    """``runs`` fresh interpreters, fastest first."""
    return sorted((profile(module, env, isolated=isolated, launcher=launcher)
                   for _ in range(runs)), key=lambda p: p.total_s)


def median(items: list[ImportProfile]) -> ImportProfile:
    return items[len(items) // 2]


def bundle_tree(target: Path, *, bytecode: bool) -> Path:
    """The Lambda bundle's layout for this interpreter: ``lambda_app`` plus the pinned
    runtime dependencies (less what the runtime ships), compiled as the bundler compiles
    (or not), then made read-only like ``/var/task``."""
    from infra.bundling import REQUIREMENTS, _drop_runtime_provided, _ignored_names

    shutil.copytree(ROOT / "lambda_app", target / "lambda_app", ignore=_ignored_names)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-compile", "--target", str(target), "-r", str(ROOT / REQUIREMENTS)],
        check=True, capture_output=True, timeout=600,
    )
    _drop_runtime_provided(target)
    if bytecode:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
             str(target)], check=True, capture_output=True, timeout=600,
        )
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return target


def runtime_tree(target: Path) -> Path:
    """What the Lambda Python runtime ships besides the standard library (boto3 and its
    dependencies), copied from this environment: the bundle leaves them out, and the
    measurement must not see this venv's dev-only packages (cryptography, say)."""
    from infra.bundling import RUNTIME_PROVIDED

    target.mkdir(parents=True)
    for module in (*RUNTIME_PROVIDED, "six"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, target / module)
        else:
            shutil.copy2(origin, target / origin.name)
    return target


def _writable_again(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def runtime_profiles(runs: int, scratch: Path) -> dict[str, list[ImportProfile]] | None:
    """The bundle as a deploy builds it (pinned wheels, bytecode from the runtime's
    Python), imported by the runtime's Python in the project's Debian root, with and
    without its bytecode; None where that root (or an x86_64 machine) is not here."""
    from infra.bundling import PYTHON_VERSION, X86_64_PLATFORMS, LocalPythonBundler
    from scripts.debian_root import DebianRoot, Mount

    root = DebianRoot()
    if os.geteuid() != 0 or not root.is_current() or platform.machine() != "x86_64":
        return None
    python = f"python{PYTHON_VERSION}"
    bundle = scratch / "deployed"
    bundle.mkdir()
    # The deploy's bundle with this machine's wheels (Lambda's arm64 ones cannot load here).
    LocalPythonBundler(ROOT, install=True, ca_bundle_url=None,
                       platforms=X86_64_PLATFORMS).try_bundle(str(bundle))
    sdk = runtime_tree(scratch / "sdk")  # precompiled in Lambda's image: here too
    root.run([python, "-m", "compileall", "-q", "/sdk"], env={},
             mounts=[Mount(sdk, "/sdk")], what="compileall")
    source_only = scratch / "deployed-source-only"
    shutil.copytree(bundle, source_only, ignore=shutil.ignore_patterns("__pycache__"))
    measured = {}
    for label, tree in (("with", bundle), ("without", source_only)):
        mounts = [Mount(tree, "/var/task", read_only=True), Mount(sdk, "/sdk", read_only=True)]
        env = {"PYTHONPATH": "/var/task:/sdk", "PYTHONDONTWRITEBYTECODE": "1"}

        def launcher(args: list[str], mounts: list[Mount] = mounts,
                     env: dict[str, str] = env) -> list[str]:
            return root.command([python, *args], env=env, mounts=mounts)

        measured[label] = profiles(MODULE, os.environ, runs, isolated=True, launcher=launcher)
    return measured


def run(ctx: Context) -> Section:
    runs = ctx.scaled(5, 1)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-bundle-") as scratch:
            installed = profiles(MODULE, os.environ, runs)
            shipped = runtime_profiles(runs, Path(scratch))
            if shipped is not None:
                return _section(ctx, installed, shipped["with"], shipped["without"], runs,
                                interpreter=RUNTIME_LABEL)
            measured: dict[str, list[ImportProfile]] = {}
            runtime = runtime_tree(Path(scratch) / "runtime")
            for bytecode in (True, False):
                tree = bundle_tree(Path(scratch) / f"pyc-{bytecode}", bytecode=bytecode)
                env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{runtime}",
                       "PYTHONDONTWRITEBYTECODE": "1"}
                try:
                    measured["with" if bytecode else "without"] = profiles(
                        MODULE, env, runs, isolated=True
                    )
                finally:
                    _writable_again(tree)
            with_pyc, no_bytecode = measured["with"], measured["without"]
    except ImportFailed as exc:
        note = f"Skipped: `import {MODULE}` failed ({exc}); the API module may still be in " \
               "progress."
        return Section(
            name=NAME, title=TITLE, notes=(note,), quick=ctx.quick, date=now_utc(),
            checks=(Check(f"cold start: import {MODULE} ≤ {TARGET_MS:.0f} ms",
                          "not measured", f"{TARGET_MS:.0f} ms", None),),
            headline="skipped: " + str(exc),
        )
    return _section(ctx, installed, with_pyc, no_bytecode, runs,
                    interpreter=f"this machine's Python {sys.version.split()[0]}")


RUNTIME_LABEL = "the runtime's Python 3.14, in the project's Debian root"


def _section(ctx: Context, installed_runs: list[ImportProfile],
             bundle_runs: list[ImportProfile], no_bytecode_runs: list[ImportProfile],
             runs: int, *, interpreter: str) -> Section:
    installed, no_bytecode = median(installed_runs), median(no_bytecode_runs)
    bundle = median(bundle_runs)
    main = Table(
        ("tree", "import ms, median", "import ms, fastest", "interpreter wall ms, median"),
        tuple((label, fmt_ms(median(items).total_s), fmt_ms(items[0].total_s),
               fmt_ms(median(items).wall_s))
              for label, items in (("the dev venv, as installed", installed_runs),
                                   ("the bundle, read-only, with .pyc", bundle_runs),
                                   ("the bundle, read-only, without .pyc",
                                    no_bytecode_runs))),
        align="lrrr",
    )
    heaviest = Table(
        ("package (as installed, median run)", "own import ms", "share"),
        tuple((name if name == STDLIB else f"`{name}`", fmt_ms(secs),
               f"{secs / installed.total_s * 100:.0f}%")
              for name, secs in list(installed.by_package.items())[:8]),
        align="lrr",
    )
    notes: tuple[str, ...] = (
        f"`python -X importtime -c \"import {MODULE}\"`, {runs} fresh interpreter(s) per "
        f"row: the dev venv on this machine's Python {sys.version.split()[0]}, the bundle "
        "as said next. The import "
        "time is the sum of every module's own (`self`) time: all modules the handler "
        "pulls in, each once; the wall time adds interpreter start-up and exit. Import "
        "time is CPU-bound, so on these shared cores it swells with the machine's load "
        "(see the load average above); the fastest run is the least disturbed one.",
        f"*The bundle* rows run on {interpreter}. " + (
            "The bundle is the one a deploy ships (`infra.bundling`: the pinned "
            "requirements as wheels, the bytecode compiled by the runtime's Python), with "
            "this machine's x86_64 wheels in place of Lambda's arm64 ones so it can be "
            "imported here, mounted read-only at `/var/task`. "
            if interpreter == RUNTIME_LABEL else
            "No Python 3.14 here (`make test-shipped` builds the Debian root that has "
            "it), so the bundle is laid out as `infra.bundling` builds it for this "
            "interpreter, then made read-only like Lambda's `/var/task`. ")
        + "*With .pyc* is compiled as the bundler compiles it (`unchecked-hash`); "
        "*without* is a source-only bundle, which "
        "compiles every module on every cold start because nothing can be written back. "
        "The interpreter runs without site-packages (`-S`): beside the bundle it sees "
        "only what the runtime ships (boto3 and its dependencies, precompiled), not this "
        "venv's dev-only packages (cryptography, which valkey-py imports if present).",
    )
    dev_only = installed.by_package.get("cryptography")
    if dev_only:
        notes += (
            f"`cryptography` ({fmt_ms(dev_only)} ms here) is imported opportunistically by "
            "valkey-py and installed only in the dev environment (moto needs it); the "
            "Lambda bundle does not contain it, so Lambda skips that part.",
        )
    check = Check(
        f"cold start: import {MODULE} ≤ {TARGET_MS:.0f} ms",
        f"bundle with .pyc {fmt_ms(bundle.total_s)} ms median, "
        f"{fmt_ms(bundle_runs[0].total_s)} ms fastest (without .pyc: "
        f"{fmt_ms(no_bytecode.total_s)} ms)",
        f"{TARGET_MS:.0f} ms",
        bundle.total_s * 1000 <= TARGET_MS,
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(main, heaviest), checks=(check,),
        quick=ctx.quick, date=now_utc(),
        headline=f"bundle import {fmt_ms(bundle.total_s)} ms with .pyc, "
                 f"{fmt_ms(no_bytecode.total_s)} ms without",
    )
