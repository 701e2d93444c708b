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

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
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


def profile(module: str, env: Mapping[str, str]) -> ImportProfile:
    with Stopwatch() as watch:
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True, text=True, env=dict(env), cwd=ROOT, check=False, timeout=120,
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


def profiles(module: str, env: Mapping[str, str], runs: int) -> list[ImportProfile]:
    """``runs`` fresh interpreters, fastest first."""
    return sorted((profile(module, env) for _ in range(runs)), key=lambda p: p.total_s)


def median(items: list[ImportProfile]) -> ImportProfile:
    return items[len(items) // 2]


def run(ctx: Context) -> Section:
    runs = ctx.scaled(5, 1)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pycache-") as empty:
            installed = profiles(MODULE, os.environ, runs)
            bare_env = {**os.environ, "PYTHONPYCACHEPREFIX": empty,
                        "PYTHONDONTWRITEBYTECODE": "1"}
            no_bytecode = profiles(MODULE, bare_env, runs)
    except ImportFailed as exc:
        note = f"Skipped: `import {MODULE}` failed ({exc}); the API module may still be in " \
               "progress."
        return Section(
            name=NAME, title=TITLE, notes=(note,), quick=ctx.quick, date=now_utc(),
            checks=(Check(f"cold start: import {MODULE} ≤ {TARGET_MS:.0f} ms",
                          "not measured", f"{TARGET_MS:.0f} ms", None),),
            headline="skipped: " + str(exc),
        )
    return _section(ctx, installed, no_bytecode, runs)


def _section(ctx: Context, installed_runs: list[ImportProfile],
             no_bytecode_runs: list[ImportProfile], runs: int) -> Section:
    installed, no_bytecode = median(installed_runs), median(no_bytecode_runs)
    main = Table(
        ("bytecode", "import ms, median", "import ms, fastest", "interpreter wall ms, median"),
        tuple((label, fmt_ms(median(items).total_s), fmt_ms(items[0].total_s),
               fmt_ms(median(items).wall_s))
              for label, items in (("as installed", installed_runs),
                                   ("none (everything compiled from source)",
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
        f"`python -X importtime -c \"import {MODULE}\"` with this machine's interpreter "
        f"({sys.version.split()[0]}), {runs} fresh interpreter(s) per row. The import "
        "time is the sum of every module's own (`self`) time: all modules the handler "
        "pulls in, each once; the wall time adds interpreter start-up and exit. Import "
        "time is CPU-bound, so on these shared cores it swells with the machine's load "
        "(see the load average above); the fastest run is the least disturbed one.",
        "*None* points `PYTHONPYCACHEPREFIX` at an empty directory, so nothing has "
        "bytecode, not even the standard library: an upper bound for Lambda with a "
        "source-only bundle, which `infra.bundling` ships when the runtime's Python is "
        "not installed where it runs (Lambda cannot write `__pycache__` in the read-only "
        "`/var/task`, so it then compiles the bundle on every cold start; the runtime's "
        "standard library is precompiled).",
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
        f"{fmt_ms(installed.total_s)} ms median, {fmt_ms(installed_runs[0].total_s)} ms "
        f"fastest (no bytecode: {fmt_ms(no_bytecode.total_s)} ms)",
        f"{TARGET_MS:.0f} ms",
        installed.total_s * 1000 <= TARGET_MS,
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(main, heaviest), checks=(check,),
        quick=ctx.quick, date=now_utc(),
        headline=f"import {fmt_ms(installed.total_s)} ms, "
                 f"no bytecode {fmt_ms(no_bytecode.total_s)} ms",
    )
