"""Read latency of one product row: pattern hit, near-cache hit, miss, bare GET.

The baseline is what the sources do on a hit: valkey-py ``GET`` + ``json.loads`` of the
same row (``json.dumps(row, default=str)``, so Decimal and datetime come back as
strings). Every other variant goes through :class:`CacheAside` and returns the row
with its real types. All variants run in the same process against the same server,
interleaved in rounds, so background load on the shared cores hits them alike;
p50/p99 come from per-call ``perf_counter_ns`` timings with the garbage collector off.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.context import Context, now_utc
from bench.report import (
    Check,
    Section,
    Table,
    bar_chart,
    fmt_ratio,
    fmt_us,
    ratio,
)
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.near_cache import NearCache, TrackingNearCache
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy
from lambda_app.clients.valkey import build_valkey
from scripts.ops.percentiles import percentile

NAME = "read_latency"
TITLE = "Read latency"
ROUNDS = 10
WARMUP = 200

BARE = "bare GET + json.loads"
HIT = "pattern hit (string, lock class)"
NEAR = "near-cache hit (pub/sub L1)"
HIT_TARGET = 1.5
NEAR_TARGET = 0.1


@dataclass
class Variant:
    """One way of reading the row: ``call`` is timed, ``reset`` (if any) runs before it."""

    label: str
    call: Callable[[], Any]
    reset: Callable[[], Any] | None = None
    per_round: int = 0


def time_calls(variant: Variant, count: int) -> list[float]:
    """``count`` timings of ``variant.call`` in seconds (``reset`` untimed)."""
    clock = time.perf_counter_ns
    call, reset = variant.call, variant.reset
    out: list[float] = []
    for _ in range(count):
        if reset is not None:
            reset()
        start = clock()
        call()
        out.append((clock() - start) / 1e9)
    return out


def measure(variants: list[Variant], rounds: int) -> dict[str, list[float]]:
    """Warm every variant up, then time them round-robin with the collector off."""
    samples: dict[str, list[float]] = {v.label: [] for v in variants}
    for variant in variants:
        time_calls(variant, min(WARMUP, variant.per_round))
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for variant in variants:
                samples[variant.label] += time_calls(variant, variant.per_round)
    finally:
        gc.enable()
    return samples


def _policies(**product: Any) -> dict[str, ClassPolicy]:
    policies = dict(DEFAULT_POLICIES)
    policies["product"] = ClassPolicy(**product)
    return policies


def run(ctx: Context) -> Section:
    client: Any = ctx.client
    top = ctx.products.top(1, "views")[0]
    pid = int(top["id"])
    row = ctx.rows[pid]

    def loader() -> Any:
        return ctx.products.get(pid)

    bare_key = ctx.keys.key("product", pid, "bare")
    client.set(bare_key, json.dumps(row, default=str), ex=3600)

    near = NearCache(max_size=1024, max_age_s=3600)
    near.listen(client, ctx.keys.channel("invalidation"))
    if near.subscriber is None or not near.subscriber.ready.wait(10):
        raise RuntimeError("the near cache's invalidation subscriber did not subscribe in 10 s")
    tracking_client = build_valkey(
        ctx.settings.valkey, protocol=3, cache_enabled=True, cache_max_size=1024
    )
    caches = {
        HIT: CacheAside(client, keys=ctx.keys),
        "pattern hit (string, XFetch class)": CacheAside(
            client, keys=ctx.keys, policies=_policies(stampede="xfetch")
        ),
        "pattern hit (hash shape)": CacheAside(
            client, keys=ctx.keys, policies=_policies(stampede="lock", shape="hash")
        ),
        NEAR: CacheAside(client, keys=ctx.keys, near=near, policies=_policies(near=True)),
        "near-cache hit (RESP3 tracking)": CacheAside(
            tracking_client,
            keys=ctx.keys,
            near=TrackingNearCache(tracking_client),
            policies=_policies(near=True),
        ),
    }
    hits = ctx.scaled(20_000, 1_000)
    per_round = max(1, hits // ROUNDS)
    variants = [Variant(BARE, lambda: json.loads(client.get(bare_key)), per_round=per_round)]
    for index, (label, cache) in enumerate(caches.items()):
        key = ctx.keys.key("product", pid, f"v{index}")
        first = cache.get("product", key, loader)
        if first.value != row:
            raise RuntimeError(f"{label}: the cached row differs from the database row")
        variants.append(Variant(label, _getter(cache, key, loader), per_round=per_round))
    miss_cache = CacheAside(client, keys=ctx.keys)
    miss_key = ctx.keys.key("product", pid, "miss")
    variants.append(
        Variant(
            "miss (MariaDB load + store)",
            _getter(miss_cache, miss_key, loader),
            reset=lambda: client.delete(miss_key),
            per_round=max(1, ctx.scaled(2_000, 100) // ROUNDS),
        )
    )
    try:
        samples = measure(variants, ROUNDS)
        _check_hits(caches)
    finally:
        near.close()
        tracking_client.close()
    return _section(ctx, samples, row)


def _getter(cache: CacheAside, key: str, loader: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: cache.get("product", key, loader)


def _check_hits(caches: dict[str, CacheAside]) -> None:
    """Hit variants must never have called the loader after their first read, and
    near-cache variants must really have been answered in-process."""
    for label, cache in caches.items():
        counts = cache.stats()["classes"]["product"]
        if counts["loads"] != 1:
            raise RuntimeError(f"{label}: {counts['loads'] - 1:.0f} loads while timing hits")
        if cache.policy("product").near and counts["near_hits"] < 0.99 * counts["hits"]:
            raise RuntimeError(
                f"{label}: only {counts['near_hits']:.0f} of {counts['hits']:.0f} hits local"
            )


def _section(ctx: Context, samples: dict[str, list[float]], row: dict[str, Any]) -> Section:
    stats = {
        label: {"p50": percentile(v, 50), "p99": percentile(v, 99), "mean": sum(v) / len(v),
                "n": len(v)}
        for label, v in samples.items()
    }
    bare = stats[BARE]["p50"]
    rows = tuple(
        (label, f"{s['n']:,}", fmt_us(s["p50"]), fmt_us(s["p99"]), fmt_us(s["mean"]),
         fmt_ratio(ratio(s["p50"], bare)))
        for label, s in stats.items()
    )
    table = Table(("read", "calls", "p50 µs", "p99 µs", "mean µs", "p50 vs bare"), rows,
                  align="lrrrrr")
    hit_ratio = ratio(stats[HIT]["p50"], bare)
    near_ratio = ratio(stats[NEAR]["p50"], bare)
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        list(stats),
        {"p50": [s["p50"] * 1e6 for s in stats.values()],
         "p99": [s["p99"] * 1e6 for s in stats.values()]},
        title="Reading one product row",
        ylabel="µs per read (log scale)",
        log=True,
        horizontal=True,
    )
    value_bytes = len(json.dumps(row, default=str))
    notes = (
        f"One product row (the most viewed; {len(row)} fields incl. a Decimal price and a "
        f"datetime, {value_bytes} bytes as plain JSON) read over loopback from the local "
        "valkey-server with the app's own client settings. Variants are interleaved in "
        f"{ROUNDS} rounds after {WARMUP} warm-up calls each; the collector is off while "
        "timing.",
        "*bare* is the usual hit path: `GET` + `json.loads` (types lost: the price and "
        "date come back as strings). The *pattern* rows go through `CacheAside.get` and "
        "return the row with its types: string shape for the lock class (products' "
        "default), string with the XFetch header, and the hash shape (`HGETALL`, one "
        "field per column). *near-cache* rows are answered in-process: the pub/sub-"
        "invalidated L1 (`NearCache`) and valkey-py's RESP3 client tracking "
        "(`TrackingNearCache`, which still polls the socket for invalidations on every "
        "read). *miss* deletes the key first (untimed), then times the whole miss: "
        "`GET`, recompute lock, MariaDB primary-key query, `SET`, lock release.",
    )
    checks = (
        Check(f"cache hit through the pattern ≤ {HIT_TARGET}x bare GET + json.loads (p50)",
              f"{fmt_ratio(hit_ratio)} ({fmt_us(stats[HIT]['p50'])} vs {fmt_us(bare)} µs)",
              f"{HIT_TARGET}x", hit_ratio <= HIT_TARGET),
        Check(f"near-cache hit ≤ {NEAR_TARGET}x bare GET (p50)",
              f"{fmt_ratio(near_ratio)} ({fmt_us(stats[NEAR]['p50'])} vs {fmt_us(bare)} µs)",
              f"{NEAR_TARGET}x", near_ratio <= NEAR_TARGET),
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        checks=checks, quick=ctx.quick, date=now_utc(),
        headline=f"bare p50 {fmt_us(bare)} µs, pattern hit {fmt_ratio(hit_ratio)}, "
                 f"near hit {fmt_ratio(near_ratio)}",
    )
