"""Hit ratio per ``maxmemory-policy`` on a Zipf(1.0) read workload, beside the ideal.

Runs on a valkey-server of its own (:mod:`bench.scratch_server`): ``CONFIG SET maxmemory`` and
``FLUSHALL`` must not touch the app's keyspace. ``maxmemory`` is sized from a
measurement: the 10,000 products' values (as the library stores them, each with a TTL)
are loaded once and the growth of ``used_memory`` gives the bytes per key; the limit is
the empty server's ``used_memory`` plus 10% of that growth, so about 1,000 products fit.

Every policy sees the same request stream (seeded Zipf(1.0) over the 10,000 ids, from
:mod:`scripts.ops.workload`): a cache-aside client reads a key and, on a miss, stores
it with a jittered 1 h TTL. Reads go in pipelines of :data:`BATCH`; ``STRLEN`` stands in
for ``GET`` (the server's lookup, and so its LRU/LFU bookkeeping, is the same, but the
reply is a few bytes: a pipeline of full replies would sit in the client output buffer,
which counts against ``maxmemory``).

The ideal static top-k hit ratio is what a cache holding exactly the k most popular
items would get: the sum of their probabilities.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.context import Context, now_utc
from bench.report import Section, Table, bar_chart, fmt_bytes, fmt_int, fmt_pct
from bench.scratch_server import flush, scratch_valkey, used_memory
from lambda_app.caching.storage import Entry, StringStorage
from lambda_app.caching.ttl import jittered_ms
from lambda_app.data.seed import PRODUCTS
from scripts.ops.workload import ZipfSampler

NAME = "eviction"
TITLE = "Hit ratio per maxmemory-policy (Zipf 1.0, memory for 10% of the products)"

POLICIES = ("allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "volatile-ttl",
            "allkeys-random")
INFRA_DEFAULT = "allkeys-lfu"
ZIPF_S = 1.0
FRACTION = 0.10
TTL_S = 3600
JITTER = 0.1
BATCH = 100
SEED = 7
TIE = 0.005  # hit ratios this close count as equal (run-to-run spread is about that)


def ideal_hit_ratio(probabilities: Sequence[float], k: int) -> float:
    """Hit ratio of a static cache holding the ``k`` most probable items."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return math.fsum(sorted(probabilities, reverse=True)[:k])


@dataclass(frozen=True)
class PolicyRun:
    policy: str
    hits: int
    reads: int
    evicted: int
    resident: float

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.reads if self.reads else 0.0


class Workload:
    """The keys, payloads and TTL stream every policy is driven with."""

    def __init__(self, ctx: Context, client: Any, rng: random.Random) -> None:
        storage = StringStorage(client)
        self.keys = {pid: ctx.product_key(pid) for pid in ctx.rows}
        self.payloads = {pid: storage.dumps(Entry(row)) for pid, row in ctx.rows.items()}
        self.rng = rng

    def ttl_ms(self) -> int:
        return jittered_ms(TTL_S, JITTER, rand=self.rng.random)

    def store(self, client: Any, ids: Sequence[int]) -> int:
        """SET the products (pipelined, each with its TTL); how many the server took
        (under ``noeviction`` a full server refuses writes with an OOM error)."""
        stored = 0
        for start in range(0, len(ids), BATCH):
            pipe = client.pipeline(transaction=False)
            for pid in ids[start : start + BATCH]:
                pipe.set(self.keys[pid], self.payloads[pid], px=self.ttl_ms())
            stored += sum(1 for r in pipe.execute(raise_on_error=False)
                          if not isinstance(r, Exception))
        return stored

    def read_batch(self, client: Any, ids: Sequence[int]) -> int:
        """Cache-aside over one pipelined batch; returns the hits.

        A key read twice in one batch after a miss counts as a hit the second time: in
        a sequential client the first miss would already have stored it.
        """
        pipe = client.pipeline(transaction=False)
        for pid in ids:
            pipe.strlen(self.keys[pid])
        hits = 0
        missing: set[int] = set()
        for pid, size in zip(ids, pipe.execute(), strict=True):
            if size or pid in missing:
                hits += 1
            else:
                missing.add(pid)
        if missing:
            for pid in missing:
                pipe.set(self.keys[pid], self.payloads[pid], px=self.ttl_ms())
            pipe.execute()
        return hits


def drive(client: Any, workload: Workload, stream: Sequence[int], warmup: int) -> tuple[int, float]:
    """Run the stream; hits counted after ``warmup`` reads; also the mean resident keys."""
    hits = 0
    resident: list[int] = []
    for number, start in enumerate(range(0, len(stream), BATCH)):
        got = workload.read_batch(client, stream[start : start + BATCH])
        if start >= warmup:
            hits += got
            if number % 100 == 0:
                resident.append(int(client.dbsize()))
    return hits, (sum(resident) / len(resident) if resident else 0.0)


def run(ctx: Context) -> Section:
    rng = random.Random(SEED)
    sampler = ZipfSampler(PRODUCTS, ZIPF_S)
    warmup = ctx.scaled(50_000, 5_000)
    reads = ctx.scaled(200_000, 20_000)
    stream = [sampler.sample(rng) for _ in range(warmup + reads)]
    with scratch_valkey() as (server, client):
        workload = Workload(ctx, client, rng)
        sample = sorted(workload.keys)[int(1 / FRACTION) - 1 :: int(1 / FRACTION)]
        workload.store(client, sample)  # first pass: one-off allocations, not per key
        flush(client)
        empty = used_memory(client)
        workload.store(client, sample)  # every 10th product: 10% of them
        budget = used_memory(client) - empty
        limit = empty + budget
        client.config_set("maxmemory", limit)
        version = client.info("server").get("valkey_version", "?")
        runs = []
        for policy in POLICIES:
            flush(client)
            client.config_set("maxmemory-policy", policy)
            client.config_resetstat()
            hits, resident = drive(client, workload, stream, warmup)
            evicted = int(client.info("stats")["evicted_keys"])
            runs.append(PolicyRun(policy, hits, reads, evicted, resident))
            ctx.say(f"{policy}: hit ratio {fmt_pct(runs[-1].hit_ratio)}")
    probabilities = [sampler.probability(i) for i in range(1, PRODUCTS + 1)]
    fits = round(statistics.fmean(r.resident for r in runs))
    sizing = Sizing(sample=len(sample), budget=budget, limit=limit, fits=fits)
    return _section(ctx, runs, ideal=ideal_hit_ratio(probabilities, fits), sizing=sizing,
                    warmup=warmup, version=str(version), server_port=server.port)


@dataclass(frozen=True)
class Sizing:
    """How ``maxmemory`` was chosen: ``budget`` bytes held ``sample`` products; running
    the workload under that limit, ``fits`` products were resident on average."""

    sample: int
    budget: int
    limit: int
    fits: int

    @property
    def per_key(self) -> float:
        return self.budget / self.sample


def _lfu_lead(runs: list[PolicyRun]) -> str:
    """Sentences on how far the LFU policies lead, and LRU against random (from the data)."""
    ratios = {r.policy: r.hit_ratio for r in runs}
    lfu = [v for k, v in ratios.items() if k.endswith("-lfu")]
    others = [v for k, v in ratios.items() if not k.endswith("-lfu")]
    text = ""
    if lfu and others:
        text += (f" Counting accesses keeps the Zipf head resident: the LFU policies lead the "
                 f"best of the others by {(min(lfu) - max(others)) * 100:.1f} points.")
    lru, rnd = ratios.get("allkeys-lru"), ratios.get("allkeys-random")
    if lru is not None and rnd is not None and abs(lru - rnd) <= TIE:
        text += (" Recency (LRU) does no better than evicting at random here: one read of a "
                 "tail item makes it look as fresh as the hottest key.")
    return text


def _section(ctx: Context, runs: list[PolicyRun], *, ideal: float, sizing: Sizing,
             warmup: int, version: str, server_port: int) -> Section:
    k = sizing.fits
    top = max(r.hit_ratio for r in runs)
    best = [r.policy for r in runs if top - r.hit_ratio <= TIE]
    rows = [
        (r.policy, fmt_pct(r.hit_ratio), f"{r.hit_ratio / ideal * 100:.0f}%",
         fmt_int(r.evicted), fmt_int(r.resident))
        for r in runs
    ]
    rows.append((f"ideal static top-{k:,}", fmt_pct(ideal), "100%", "-", fmt_int(k)))
    table = Table(("policy", "hit ratio", "of ideal", "evictions", "keys resident (mean)"),
                  tuple(rows), align="lrrrr")
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        [r.policy for r in runs],
        {"hit ratio %": [r.hit_ratio * 100 for r in runs]},
        title=f"Hit ratio, Zipf({ZIPF_S:.1f}) reads, memory for ~{FRACTION:.0%} of "
              f"{PRODUCTS:,} products",
        ylabel="hit ratio %",
        value_format="{:.1f}",
        hlines=((ideal * 100, f"ideal static top-{k:,} ({ideal * 100:.1f}%)"),),
        ylim=(0, 100),
        labels_inside=True,
    )
    reads = runs[0].reads if runs else 0
    infra = next((r for r in runs if r.policy == INFRA_DEFAULT), None)
    notes = (
        f"A dedicated valkey-server {version} (free loopback port, {server_port} in this "
        "run) so the app's keys are never evicted or flushed. Each product is stored as "
        f"the library stores it (string shape) with a TTL. Sizing: storing every "
        f"{int(1 / FRACTION)}th product ({sizing.sample:,}, {FRACTION:.0%} of them) grew "
        f"`used_memory` by {fmt_bytes(sizing.budget)} ({fmt_bytes(sizing.per_key)} per key: "
        "value, key, TTL and dictionary entries), so `maxmemory` = the empty server's "
        f"`used_memory` + that = {fmt_bytes(sizing.limit)}, the same for every policy. "
        f"Running the workload, that memory held {k:,} products on average (sampled with "
        "`DBSIZE`, all policies alike): the k of the ideal below.",
        f"Per policy: `FLUSHALL SYNC`, `CONFIG SET maxmemory-policy`, then {warmup:,} warm-up "
        f"reads and {reads:,} measured reads of the same seeded Zipf({ZIPF_S:.1f}) stream "
        f"(`scripts/ops/workload.py`); a miss stores the product (cache-aside). Reads "
        f"are pipelined {BATCH} at a time; `STRLEN` does the server-side lookup of a "
        "`GET` (same LRU/LFU update) with a few-byte reply, since pipelined replies in "
        "the client output buffer would count against `maxmemory`. `maxmemory-samples` "
        "is the default 5.",
        f"Every key gets a TTL (1 h ± {JITTER:.0%}), as every write of the library does. "
        "That makes the volatile-* policies comparable: they may only evict keys with a "
        "TTL, and a key without one would never be evicted by them (with only such keys "
        "a volatile policy runs out of memory and refuses writes). With all keys "
        "expiring, volatile-lru/-lfu behave like their allkeys-* twins; volatile-ttl "
        "evicts the shortest remaining TTL, which with jittered TTLs set moments apart "
        "is close to random.",
        f"The ideal is the static cache of the {k:,} most popular ids: the sum of their "
        "Zipf probabilities, which no eviction policy beats on average when reads are "
        f"independent draws. Best here: **{' and '.join(best)}** ({fmt_pct(top)}"
        f"{f', a tie within {TIE * 100:.1f} points' if len(best) > 1 else ''})"
        + (f"; the infra default {INFRA_DEFAULT} got {fmt_pct(infra.hit_ratio)}, "
           f"{(infra.hit_ratio / ideal) * 100:.0f}% of the ideal." if infra else ".")
        + _lfu_lead(runs),
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        quick=ctx.quick, date=now_utc(),
        headline=", ".join(f"{r.policy} {fmt_pct(r.hit_ratio)}" for r in runs)
                 + f"; ideal {fmt_pct(ideal)}",
        extra={"hit_ratio": {r.policy: r.hit_ratio for r in runs}, "ideal": ideal, "k": k,
               "bytes_per_key": sizing.per_key, "maxmemory": sizing.limit},
    )
