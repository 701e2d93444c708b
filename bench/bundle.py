"""The Lambda bundle's size: built exactly as the infra builds it, then measured.

The asset is built by ``infra.bundling.LocalPythonBundler`` (the ``lambda_app``
package plus ``pip install -r requirements/lambda.txt`` for the Lambda platform, with
the infra's Python version and wheel platforms), in a child process so the CDK
libraries stay out of the benchmark process. Reported: the unzipped size (sum of file
sizes, what Lambda's 250 MB limit counts), the zipped size (deflate, like the uploaded
asset), the biggest entries, and what the bundler leaves out because the Python
runtime already ships it.

``python -m bench.bundle DIR`` builds the asset into DIR (used by :func:`run`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.context import Context, now_utc
from bench.report import Check, Section, Table, bar_chart, fmt_bytes
from scripts.project_node import with_project_node

NAME = "bundle"
TITLE = "Lambda bundle size"
TARGET_MB = 15.0
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


class BuildFailed(RuntimeError):
    """pip (or the bundler) failed; the message is its last output line."""


def build(out_dir: Path) -> dict[str, Any]:
    """The infra's own bundling, into ``out_dir`` (empty or missing); returns its target."""
    from infra import bundling

    bundling.LocalPythonBundler(ROOT, install=True, ca_bundle_url=None).try_bundle(str(out_dir))
    return {
        "python_version": bundling.PYTHON_VERSION,
        "platforms": list(bundling.PLATFORMS),
        "left_out": sorted(bundling.RUNTIME_PROVIDED),
    }


def build_in_child(out_dir: Path) -> dict[str, Any]:
    """:func:`build` in a child process; returns what it printed (the target)."""
    env = with_project_node()
    result = subprocess.run(
        [sys.executable, "-m", "bench.bundle", str(out_dir)],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=600,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise BuildFailed(lines[-1] if lines else f"exit status {result.returncode}")
    printed = [line for line in result.stdout.splitlines() if line.startswith("{")]
    target: dict[str, Any] = json.loads(printed[-1]) if printed else {}
    return target


def files(root: Path) -> Iterable[Path]:
    return (path for path in root.rglob("*") if path.is_file() and not path.is_symlink())


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in files(root)) if root.is_dir() else (
        root.stat().st_size if root.exists() else 0)


def zipped_size(root: Path, zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(files(root)):
            archive.write(path, path.relative_to(root).as_posix())
    return zip_path.stat().st_size


def entries(root: Path) -> dict[str, int]:
    """Size of each top-level package, its ``*.dist-info`` folded into it."""
    sizes: dict[str, int] = {}
    for child in root.iterdir():
        name = child.name
        if name.endswith(".dist-info"):
            name = name.split("-")[0].lower()
        sizes[name] = sizes.get(name, 0) + tree_size(child)
    return sizes


@dataclass(frozen=True)
class BundleFacts:
    total: int  # unzipped bytes
    zipped: int
    sizes: dict[str, int]  # per top-level entry
    target: dict[str, Any]  # python_version, platforms, left_out
    bytecode: int  # .pyc files: the bundler compiles only where the runtime's Python is


def run(ctx: Context) -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        out = Path(tmp) / "asset"
        try:
            target = build_in_child(out)
        except (BuildFailed, subprocess.TimeoutExpired) as exc:
            return _skipped(ctx, str(exc))
        facts = BundleFacts(
            total=tree_size(out),
            zipped=zipped_size(out, Path(tmp) / "asset.zip"),
            sizes=entries(out),
            target=target,
            bytecode=sum(1 for _ in out.rglob("*.pyc")),
        )
    return _section(ctx, facts)


def _skipped(ctx: Context, reason: str) -> Section:
    return Section(
        name=NAME, title=TITLE, quick=ctx.quick, date=now_utc(),
        notes=(f"Skipped: the bundle could not be built ({reason}); pip needs to reach the "
               "package registry.",),
        checks=(Check(f"Lambda bundle ≤ {TARGET_MB:g} MB", "not measured", f"{TARGET_MB:g} MB",
                      None),),
        headline="skipped: " + reason,
    )


def _section(ctx: Context, facts: BundleFacts) -> Section:
    total, zipped, sizes, target = facts.total, facts.zipped, facts.sizes, facts.target
    summary = Table(
        ("bundle", "unzipped", "zipped"),
        (("lambda_app + requirements/lambda.txt, as the infra builds it", fmt_bytes(total),
          fmt_bytes(zipped)),),
        align="lrr",
    )
    biggest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:10]
    parts = Table(("entry", "unzipped", "share"),
                  tuple((f"`{name}`", fmt_bytes(size), f"{size / total * 100:.0f}%")
                        for name, size in biggest), align="lrr")
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        [name for name, _ in biggest],
        {"MiB": [size / MIB for _, size in biggest]},
        title=f"Lambda bundle, unzipped {total / MIB:.1f} MiB: biggest entries",
        ylabel="MiB",
        value_format="{:.1f}",
        horizontal=True,
    )
    left_out = target.get("left_out") or []
    notes = (
        f"Built by `infra.bundling.LocalPythonBundler` exactly as `cdk synth` does: pip "
        f"wheels for CPython {target.get('python_version', '?')} on "
        f"{' / '.join(target.get('platforms', ['?']))}, "
        "`--only-binary=:all: --no-compile`, plus the `lambda_app` package without caches "
        "or tests. Unzipped = sum of file sizes; zipped = the same tree deflated. MB here "
        "means MiB.",
        (f"Bytecode: {facts.bytecode:,} `.pyc` files, compiled by the bundler with "
         f"python{target.get('python_version', '?')} (included in the sizes)."
         if facts.bytecode else
         f"No bytecode: python{target.get('python_version', '?')} is not installed here, so "
         "the bundler ships source only and Lambda compiles it at every cold start (see the "
         "cold start's *none* row)."),
        (f"The bundler leaves out what the Lambda Python runtime already ships "
         f"({', '.join(f'`{name}`' for name in left_out)}; `aws-lambda-powertools[tracer]` "
         "pulls botocore in through `aws-xray-sdk`)."
         if left_out else "Nothing the runtime already ships is left out (botocore, pulled "
         "in by `aws-lambda-powertools[tracer]` through `aws-xray-sdk`, is bundled)."),
    )
    check = Check(
        f"Lambda bundle ≤ {TARGET_MB:g} MB",
        f"{total / MIB:.1f} MiB unzipped, {zipped / MIB:.1f} MiB zipped",
        f"{TARGET_MB:g} MB",
        total / MIB <= TARGET_MB,
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(summary, parts), figures=(figure,),
        checks=(check,), quick=ctx.quick, date=now_utc(),
        headline=f"{total / MIB:.1f} MiB unzipped, {zipped / MIB:.1f} MiB zipped",
    )


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]))))
