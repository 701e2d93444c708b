"""``load``: a Zipf read workload against ``GET /products/{id}`` for a fixed duration.

Workers (threads sharing one keep-alive pool) draw ids from a Zipf distribution and
record every response: latency, status and ``X-Cache``. The report gives throughput,
p50/p95/p99, the hit ratio the API reported, and errors by kind; a PNG shows throughput
and latency per second. A run is one caller to the API (one IAM principal with
``--remote``, one address locally), rate-limited like any other: raise the environment's
``RATE_LIMIT_REQUESTS`` for a load test, or read the 429s as the limiter at work.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.ops.argtypes import (
    base_url,
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
)
from scripts.ops.errors import EXIT_FAILED, EXIT_OK
from scripts.ops.http import HttpClient, HttpError, http_client
from scripts.ops.output import Progress, print_json, print_text, progress, table
from scripts.ops.percentiles import latency_ms, percentile
from scripts.ops.workload import ZipfSampler

#: Where the plot goes unless told: ignored by git, with the rest of the local state.
DEFAULT_PLOT = Path(".local") / "load.png"
#: The seed's catalogue size (``lambda_app.data.seed.PRODUCTS``; a test keeps them equal).
SEED_PRODUCTS = 10_000

if TYPE_CHECKING:
    from scripts.ops.parents import Parents

TRANSPORT_ERROR = 0  # the status recorded when no HTTP response came back


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the run started, when the request was sent
    seconds: float
    status: int
    cache: str | None  # X-Cache: HIT / MISS, or None


@dataclass(frozen=True)
class LoadReport:
    requests: int
    duration: float
    throughput: float
    latency_ms: dict[str, float]
    hits: int
    misses: int
    hit_ratio: float | None
    ok: int
    not_found: int
    rate_limited: int
    errors: int
    error_rate: float
    statuses: dict[str, int] = field(default_factory=dict)


def classify(status: int) -> str:
    """ok, not_found (an id the seed did not create), rate_limited, or error."""
    if 200 <= status < 300:
        return "ok"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    return "error"


def summarize(samples: Sequence[Sample], duration: float) -> LoadReport:
    """Figures for a finished run (pure: unit-tested)."""
    kinds = Counter(classify(s.status) for s in samples)
    hits = sum(1 for s in samples if s.cache == "HIT")
    misses = sum(1 for s in samples if s.cache == "MISS")
    answered = [s.seconds for s in samples if s.status != TRANSPORT_ERROR]
    statuses = Counter(
        "transport" if s.status == TRANSPORT_ERROR else str(s.status) for s in samples
    )
    return LoadReport(
        requests=len(samples),
        duration=duration,
        throughput=len(samples) / duration if duration > 0 else 0.0,
        latency_ms=latency_ms(answered),
        hits=hits,
        misses=misses,
        hit_ratio=hits / (hits + misses) if hits + misses else None,
        ok=kinds["ok"],
        not_found=kinds["not_found"],
        rate_limited=kinds["rate_limited"],
        errors=kinds["error"],
        error_rate=kinds["error"] / len(samples) if samples else 0.0,
        statuses=dict(sorted(statuses.items())),
    )


def per_second(samples: Sequence[Sample]) -> list[tuple[int, int, float, float, float]]:
    """(second, requests, p50 ms, p95 ms, p99 ms) for each whole second of the run."""
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int(s.at), []).append(s.seconds * 1000)
    return [
        (sec, len(ms), percentile(ms, 50), percentile(ms, 95), percentile(ms, 99))
        for sec, ms in sorted(buckets.items())
    ]


@dataclass(frozen=True)
class Workload:
    sampler: ZipfSampler
    seed: int | None

    def rng(self, worker: int) -> random.Random:
        """Worker ``worker``'s own generator: seeded runs repeat per worker."""
        return random.Random(None if self.seed is None else self.seed + worker)


def _worker(
    client: HttpClient,
    workload: Workload,
    worker: int,
    window: tuple[float, float],
    out: list[Sample],
) -> None:
    start, deadline = window
    rng = workload.rng(worker)
    while (now := time.perf_counter()) < deadline:
        item = workload.sampler.sample(rng)
        try:
            reply = client.get(f"/products/{item}")
            out.append(Sample(now - start, reply.seconds, reply.status, reply.header("X-Cache")))
        except HttpError:
            out.append(Sample(now - start, time.perf_counter() - now, TRANSPORT_ERROR, None))


def run_load(
    client: HttpClient,
    workload: Workload,
    *,
    duration: float,
    concurrency: int,
    tick: Callable[[float, int], None] = lambda _elapsed, _count: None,
) -> tuple[list[Sample], float]:
    """Run ``concurrency`` workers for ``duration`` seconds; ``tick`` reports progress."""
    results: list[list[Sample]] = [[] for _ in range(concurrency)]
    start = time.perf_counter()
    deadline = start + duration
    threads = [
        threading.Thread(
            target=_worker, args=(client, workload, i, (start, deadline), results[i]), daemon=True
        )
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        tick(min(time.perf_counter() - start, duration), sum(len(r) for r in results))
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    samples = sorted((s for r in results for s in r), key=lambda s: s.at)
    return samples, elapsed


def save_plot(samples: Sequence[Sample], report: LoadReport, path: Path, title: str) -> None:
    """Throughput and p50/p95/p99 per second, as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = per_second(samples)
    seconds = [r[0] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(seconds, [r[1] for r in rows], color="tab:blue", marker=".")
    top.set_ylabel("requests / s")
    top.set_ylim(bottom=0)
    for column, label in ((2, "p50"), (3, "p95"), (4, "p99")):
        bottom.plot(seconds, [r[column] for r in rows], label=label, marker=".")
    bottom.set_ylabel("latency (ms)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("seconds since start")
    bottom.legend(loc="upper right")
    ratio = "n/a" if report.hit_ratio is None else f"{report.hit_ratio:.1%}"
    fig.suptitle(
        f"{title}: {report.throughput:.0f} req/s, p99 {report.latency_ms['p99']:.1f} ms, "
        f"hit ratio {ratio}, errors {report.errors}"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(report: LoadReport) -> str:
    lat = report.latency_ms
    ratio = "n/a" if report.hit_ratio is None else f"{report.hit_ratio:.1%}"
    rows = [
        ("requests", report.requests),
        ("duration", f"{report.duration:.1f} s"),
        ("throughput", f"{report.throughput:.1f} req/s"),
        ("latency p50 / p95 / p99", f"{lat['p50']:.2f} / {lat['p95']:.2f} / {lat['p99']:.2f} ms"),
        ("hit ratio (X-Cache)", f"{ratio} ({report.hits} hits, {report.misses} misses)"),
        ("not found / rate limited", f"{report.not_found} / {report.rate_limited}"),
        ("errors", f"{report.errors} ({report.error_rate:.2%})"),
        ("statuses", ", ".join(f"{k}: {v}" for k, v in report.statuses.items())),
    ]
    return table(("METRIC", "VALUE"), rows)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "load",
        parents=[parents.http, parents.json],
        help="Zipf read load on GET /products/{id}: throughput, latency, hit ratio",
        description="Run a Zipf workload for a duration with N concurrent workers, print "
        "throughput, p50/p95/p99 latency, hit ratio and errors, and save a PNG plot. "
        "Exit code 1 when the error rate exceeds --max-error-rate. Every worker is one "
        "caller to the API's rate limiter (the default allows 100 requests a minute): "
        "to load-test for real, raise RATE_LIMIT_REQUESTS on the server first.",
    )
    parser.add_argument("base_url", metavar="BASE_URL", type=base_url, help="API base URL")
    parser.add_argument(
        "-d", "--duration", type=positive_float, default=30.0, help="seconds to run (default: 30)"
    )
    parser.add_argument(
        "-c", "--concurrency", type=positive_int, default=8, help="concurrent workers (default: 8)"
    )
    parser.add_argument(
        "--items",
        type=positive_int,
        default=1000,
        help=f"ids drawn from 1..ITEMS (default: 1000, the hottest tenth of the seed's "
        f"{SEED_PRODUCTS:,} products)",
    )
    parser.add_argument(
        "--zipf-s",
        type=non_negative_float,
        default=1.1,
        help="Zipf exponent; 0 is uniform (default: 1.1)",
    )
    parser.add_argument("--seed", type=int, help="random seed for reproducible id streams")
    parser.add_argument(
        "--plot", type=Path, default=DEFAULT_PLOT,
        help=f"PNG path (default: {DEFAULT_PLOT}, beside the local servers' state)",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    parser.add_argument(
        "--max-error-rate",
        type=fraction,
        default=0.01,
        help="fail above this fraction of errors (default: 0.01)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.no_plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
    workload = Workload(ZipfSampler(args.items, args.zipf_s), args.seed)
    client = http_client(args, pool_size=args.concurrency)
    try:
        client.get("/health")  # unreachable: one line and exit 1 before any thread starts
        with progress(total=args.duration, desc="load", unit="s", enabled=not args.json) as bar:
            samples, elapsed = run_load(
                client,
                workload,
                duration=args.duration,
                concurrency=args.concurrency,
                tick=_ticker(bar),
            )
    finally:
        client.close()
    report = summarize(samples, elapsed)
    plot = None if args.no_plot else args.plot
    if plot is not None:
        save_plot(samples, report, plot, f"GET /products/{{id}} x{args.concurrency}")
    if args.json:
        print_json(
            {
                **asdict(report),
                "plot": str(plot) if plot else None,
                "base_url": args.base_url,
                "concurrency": args.concurrency,
                "items": args.items,
                "zipf_s": args.zipf_s,
            }
        )
    else:
        print_text(render(report) + (f"\n\nplot: {plot}" if plot else ""))
    return EXIT_FAILED if report.error_rate > args.max_error_rate else EXIT_OK


def _ticker(bar: Progress) -> Callable[[float, int], None]:
    shown = [0.0]

    def tick(elapsed: float, count: int) -> None:
        bar.update(elapsed - shown[0])
        shown[0] = elapsed
        bar.set_postfix_str(f"{count} requests")

    return tick
