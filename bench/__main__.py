"""``python -m bench``: the benchmarks against the servers the settings env names.

``make bench`` starts the local stack and exports its settings first. Each benchmark is
a module with ``NAME``, ``TITLE`` and ``run(ctx) -> Section``; this runs them in order,
prints one line per benchmark, and writes ``RESULTS.md`` + PNGs (+ ``results.json``,
which lets ``--only`` re-run some and keep the others' last results) to ``.local/bench``;
``--save`` writes the committed ``bench/results`` instead (``make bench-save``).

    python -m bench [--only NAME ...] [--quick] [--out DIR | --save]

``--quick`` shrinks every benchmark to a smoke run (seconds) and, unless ``--out`` is
given, writes to ``.local/bench-quick``. Benchmarks use a database of their own
(``<DB_NAME>_bench``) and the ``bench`` key prefix, so a developer's data survives.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.context import Context, now_utc
from bench.report import Section, save_results
from lambda_app.clients.errors import ServerUnavailable
from lambda_app.config_types import ConfigError
from lambda_app.settings import Settings
from scripts.servers import ServerError

BENCHMARKS = ("read_latency", "handler", "peers", "warming", "stampede", "eviction", "memory",
              "field_ttl", "rate_limit", "faults", "tls_connect", "cold_start", "bundle")
ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
RUN_DIR = ROOT / ".local" / "bench"
DB_SUFFIX = "_bench"
QUICK_DIR = ROOT / ".local" / "bench-quick"

INTRO = (
    "Produced by `make bench` (local valkey-server and MariaDB from "
    "`python -m scripts.local_stack up`, then `python -m bench`); one benchmark: "
    "`python -m bench --only NAME`. Every figure below was measured on the machine "
    "described next, over loopback (the warming benchmark also through a loopback "
    "proxy that adds a network-like round trip), while other work shared its CPUs: absolute "
    "timings vary from run to run, ratios taken within one run are the stable part. "
    "Targets are reported, never asserted (tests assert behaviour, benchmarks print "
    "figures).",
)


def _names(values: list[str] | None) -> list[str]:
    if not values:
        return list(BENCHMARKS)
    chosen = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(
            f"bench: unknown benchmark {unknown[0]!r}: expected one of {', '.join(BENCHMARKS)}"
        )
    return [name for name in BENCHMARKS if name in chosen]


def own_database(settings: Settings) -> Settings:
    """The benchmarks' own database beside the app's (``<DB_NAME>_bench``): the seed they
    need replaces data, and a developer's ``make serve`` data must survive ``make bench``.
    Run as the database's owner when the environment names one (``make env`` does): the
    serving user may not create a database."""
    from scripts.servers import admin_settings

    owner = admin_settings(settings.db, os.environ)
    bench_db = owner.model_copy(update={"name": f"{settings.db.name}{DB_SUFFIX}"})
    return settings.model_copy(update={"db": bench_db})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these (repeat or comma-separate): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true",
                        help="small iteration counts: a smoke run in seconds")
    parser.add_argument("--save", action="store_true",
                        help=f"write the committed results in {RESULTS_DIR.relative_to(ROOT)} "
                             f"(default: {RUN_DIR.relative_to(ROOT)}, so a run changes nothing "
                             "tracked)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results directory (default {RUN_DIR.relative_to(ROOT)}, "
                             f"or {QUICK_DIR.relative_to(ROOT)} with --quick)")
    return parser


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(ctx: Context, load_before: tuple[float, float, float]) -> dict[str, str]:
    info = {
        "date": now_utc(),
        "os": platform.platform(),
        "cpu": f"{_cpu_model()}, {os.cpu_count()} logical CPUs (shared)",
        "load average at start (1/5/15 min)": " / ".join(f"{v:.2f}" for v in load_before),
        "python": sys.version.split()[0],
        "valkey-py / PyMySQL": f"{_version('valkey')} / {_version('PyMySQL')}",
    }
    if "client" in ctx.__dict__:
        server: Any = ctx.client.info("server")
        info["valkey-server"] = str(server.get("valkey_version", server.get("redis_version")))
    if "db" in ctx.__dict__:
        with ctx.db.cursor() as cursor:
            cursor.execute("SELECT VERSION() AS v")
            info["database"] = str(cursor.fetchone()["v"])
        ctx.db.commit()
    return info


def run_one(module: ModuleType, ctx: Context, index: int, count: int) -> Section:
    print(f"bench [{index}/{count}] {module.NAME} ...", flush=True)
    started = time.perf_counter()
    section: Section = module.run(ctx)
    seconds = time.perf_counter() - started
    section = dataclasses.replace(section, seconds=round(seconds, 1))
    print(f"bench [{index}/{count}] {module.NAME}: {section.headline} ({seconds:.1f} s)",
          flush=True)
    return section


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = _names(args.only)
    if args.save and (args.quick or args.out):
        print("bench: --save writes full runs to the committed results; drop --quick/--out",
              file=sys.stderr)
        return 2
    default_dir = RESULTS_DIR if args.save else (QUICK_DIR if args.quick else RUN_DIR)
    out_dir = (args.out or default_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    failed: list[str] = []
    sections: list[Section] = []
    try:
        ctx = Context(own_database(Settings.from_env()), out_dir, quick=args.quick)
    except ConfigError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    try:
        for index, name in enumerate(names, start=1):
            module = importlib.import_module(f"bench.{name}")
            try:
                sections.append(run_one(module, ctx, index, len(names)))
            except (ServerUnavailable, ServerError) as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1
            except Exception as exc:  # one broken benchmark must not lose the others
                print(f"bench: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed.append(name)
        if sections:
            intro = INTRO + tuple(ctx.notes)
            path = save_results(out_dir, sections, machine_info(ctx, load_before),
                                order=BENCHMARKS, intro=intro)
            print(f"bench: wrote {path} ({time.perf_counter() - started:.0f} s in all)")
            if args.save:
                from bench import readme

                if readme.sync(results_dir=out_dir):
                    print("bench: README.md's figures rewritten from the new results")
    finally:
        ctx.close()
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
