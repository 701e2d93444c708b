"""Warming 10,000 products: the library's pipelined warmer against the per-key loop.

The baseline is the usual warm loop: one ``SETEX`` round trip per product, with
the same payload the library stores (``StringStorage.dumps``), so only the round trips
differ. Measured in one run, each path's median over repeats that alternate the order:

* over loopback, cache writes only (the rows already in memory: what pipelining buys)
  and end to end (the top-10,000 query plus the writes, as the app's warm service does
  it: ``top`` for the ids, then ``Warmer.warm`` reading rows per batch with
  ``get_many``; the loop reads them all with the one ``top`` query);
* through :class:`bench.latency_proxy.DelayProxy`, cache writes only, at round trips
  like those of ElastiCache in the same AZ (loopback's ~25 µs hides what N round trips
  cost), with a client built from the same settings (timeouts, retries) as the app's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bench.context import Context, Row, Stopwatch, now_utc
from bench.latency_proxy import DelayProxy, is_loopback, measure_rtt, ping_times
from bench.report import (
    Check,
    Section,
    Table,
    bar_chart,
    fmt_int,
    fmt_ms,
    fmt_ratio,
    fmt_us,
    ratio,
)
from lambda_app.caching.storage import Entry, StringStorage
from lambda_app.caching.warming import Warmer
from lambda_app.clients.valkey import ValkeyClient, build_valkey
from lambda_app.data.schema import PRODUCT_COLUMNS
from lambda_app.data.seed import PRODUCTS

NAME = "warming"
TITLE = "Warming 10,000 products"
SOURCE_TTL_S = 3600  # the loop's SETEX TTL for products (the product class's)
TARGET = 20.0
LOOP = "per-key SETEX loop"
PIPELINED = "pipelined Warmer"
WRITES = "cache writes only"
END_TO_END = "end to end (query + writes)"
PLAIN = "plain pipeline (reference)"
#: One-way delays the proxy adds: round trips at both ends of same-AZ ElastiCache's
#: ~0.2-0.5 ms (the proxy's own overhead comes on top; the RTT is measured).
ONE_WAY_MS = (0.05, 0.2)
RTT_PINGS = 200
#: The proxy's bounds: a few repeats of the 10,000-round-trip loop take ~20 s.
PROXY_MAX_SECONDS = 180.0
PROXY_MAX_BYTES = 256 << 20
#: Through the proxy the pipelined paths take ~1/30 of the loop's time: more samples of
#: them per repeat cost little and steady their medians on shared CPUs.
PIPELINED_RUNS = {PIPELINED: 3, PLAIN: 3}

K = TypeVar("K", bound=Hashable)
KeyOf = Callable[[int], str]


def per_key_loop(client: ValkeyClient, key: KeyOf, rows: Sequence[Row],
                 storage: StringStorage) -> int:
    """The per-key loop: one SETEX round trip per product (payload as the library's)."""
    for row in rows:
        client.setex(key(int(row["id"])), SOURCE_TTL_S, storage.dumps(Entry(row)))
    return len(rows)


def plain_pipeline(client: ValkeyClient, key: KeyOf, rows: Sequence[Row],
                   storage: StringStorage, batch: int) -> int:
    """What pipelining alone costs: ``SET PX`` per key, ``batch`` per round trip, no
    leases (the reference the Warmer's safety is paid on top of)."""
    for start in range(0, len(rows), batch):
        pipe = client.pipeline(transaction=False)
        for row in rows[start : start + batch]:
            pipe.set(key(int(row["id"])), storage.dumps(Entry(row)), px=SOURCE_TTL_S * 1000)
        pipe.execute()
    return len(rows)


def write_cases(client: ValkeyClient, key: KeyOf, rows: Sequence[Row],
                warmer: Warmer) -> dict[str, Callable[[], int]]:
    """The three cache-write paths over in-memory ``rows``, all through ``client``."""
    by_id = {row["id"]: row for row in rows}
    ids = list(by_id)
    storage = warmer.storage

    def warm() -> int:
        return warmer.warm("product", "product", ids, lambda w: {i: by_id[i] for i in w}).warmed

    return {
        LOOP: lambda: per_key_loop(client, key, rows, storage),
        PIPELINED: warm,
        PLAIN: lambda: plain_pipeline(client, key, rows, storage, warmer.batch_size),
    }


def evalsha_usec(ctx: Context) -> tuple[int, int]:
    """(calls, µs) the server spent in EVALSHA so far (``INFO commandstats``)."""
    stats: Any = ctx.client.info("commandstats")
    entry = stats.get("cmdstat_evalsha", {})
    return int(entry.get("calls", 0)), int(entry.get("usec", 0))


@dataclass(frozen=True)
class Timed:
    """Median seconds per case, and the server's EVALSHA (calls, µs) summed per case."""

    seconds: dict[Any, float]
    lua: dict[Any, tuple[int, int]]


def time_cases(ctx: Context, cases: Mapping[K, Callable[[], int]], repeats: int,
               expected: int, *, runs: Mapping[K, int] | None = None) -> Timed:
    """Run each case ``repeats`` times (``runs[case]`` times per repeat: cheap cases can
    take more samples), alternating the order, the bench keys deleted before each run
    (untimed); every run must store ``expected`` products."""
    seconds: dict[K, list[float]] = {case: [] for case in cases}
    lua = dict.fromkeys(cases, (0, 0))
    order = [case for case in cases for _ in range((runs or {}).get(case, 1))]
    for repeat in range(repeats):
        for case in order if repeat % 2 == 0 else order[::-1]:
            ctx.cleanup()
            calls, usec = evalsha_usec(ctx)
            with Stopwatch() as watch:
                stored = cases[case]()
            after = evalsha_usec(ctx)
            if stored != expected:
                raise RuntimeError(f"{case}: stored {stored} of {expected} products")
            seconds[case].append(watch.seconds)
            lua[case] = (lua[case][0] + after[0] - calls, lua[case][1] + after[1] - usec)
    ctx.cleanup()
    return Timed({case: statistics.median(v) for case, v in seconds.items()}, dict(lua))


def warm_up(ctx: Context, cases: Mapping[Any, Callable[[], int]]) -> None:
    """One untimed run of each case: fills the DB's buffer pool, loads the scripts,
    opens the connections."""
    for case in cases.values():
        ctx.cleanup()
        case()
    ctx.cleanup()


@dataclass(frozen=True)
class Remote:
    """The cache-write paths timed through the delay proxy at one delay."""

    one_way_ms: float
    rtt: float  # median PING through the proxy, before and after the runs
    seconds: dict[str, float]

    @property
    def label(self) -> str:
        return f"{fmt_ms(self.rtt)} ms RTT (proxy, +{self.one_way_ms:g} ms each way)"

    @property
    def speedup(self) -> float:
        return ratio(self.seconds[LOOP], self.seconds[PIPELINED])


def through_proxy(ctx: Context, one_way_ms: float, rows: Sequence[Row], repeats: int) -> Remote:
    """Time the cache-write paths through a :class:`DelayProxy` to the app's Valkey,
    with a client built from the app's settings (only host and port differ)."""
    settings = ctx.settings.valkey
    with DelayProxy(settings.host, settings.port, one_way_ms=one_way_ms,
                    max_seconds=PROXY_MAX_SECONDS, max_bytes=PROXY_MAX_BYTES) as (host, port):
        client = build_valkey(settings.model_copy(update={"host": host, "port": port}))
        try:
            warmer = Warmer(client, keys=ctx.keys, storage=StringStorage(client))
            pings = ping_times(client.ping, RTT_PINGS)
            warm_up(ctx, write_cases(client, ctx.product_key, rows[: warmer.batch_size], warmer))
            timed = time_cases(ctx, write_cases(client, ctx.product_key, rows, warmer),
                               repeats, len(rows), runs=PIPELINED_RUNS)
            pings += ping_times(client.ping, RTT_PINGS)  # the load may have changed meanwhile
        finally:
            client.close()
    rtt = statistics.median(pings)
    ctx.say(f"warming: {rtt * 1e3:.2f} ms round trips through the proxy (+{one_way_ms} ms)")
    return Remote(one_way_ms, rtt, timed.seconds)


def proxiable(ctx: Context) -> bool:
    """The proxy forwards one loopback standalone server (a cluster would redirect the
    client to its nodes' own ports; a remote server has a real round trip already)."""
    return not ctx.settings.valkey.cluster and is_loopback(ctx.settings.valkey.host)


def run(ctx: Context) -> Section:
    warmer = Warmer(ctx.client, keys=ctx.keys, storage=StringStorage(ctx.client))
    in_memory = ctx.rows
    ordered = [in_memory[i] for i in sorted(in_memory)]

    def by_id(wanted: Sequence[Any]) -> dict[Any, Row]:
        return {row["id"]: row for row in ctx.products.get_many(list(wanted))}

    def ranked(columns: str) -> list[Row]:
        """The whole catalogue, most viewed first: more rows than the API's top-N and
        warm bounds allow one call, so the benchmark asks the database itself."""
        with ctx.db.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM products ORDER BY views DESC, id DESC")
            rows = list(cursor.fetchall())
        ctx.db.commit()
        return rows

    def loop_end_to_end() -> int:
        return per_key_loop(ctx.client, ctx.product_key,
                            ranked(", ".join(PRODUCT_COLUMNS)), warmer.storage)

    def warm_end_to_end() -> int:
        top = [row["id"] for row in ranked("id")]
        return warmer.warm("product", "product", top, by_id).warmed

    cases: dict[tuple[str, str], Callable[[], int]] = {
        (WRITES, how): case
        for how, case in write_cases(ctx.client, ctx.product_key, ordered, warmer).items()
    }
    cases[(END_TO_END, LOOP)] = loop_end_to_end
    cases[(END_TO_END, PIPELINED)] = warm_end_to_end
    repeats, remote_repeats = ctx.scaled(5, 1), ctx.scaled(3, 1)
    warm_up(ctx, cases)
    local = time_cases(ctx, cases, repeats, PRODUCTS)
    rtt = measure_rtt(ctx.client.ping, 2_000)
    remotes = [through_proxy(ctx, delay, ordered, remote_repeats)
               for delay in (ONE_WAY_MS if proxiable(ctx) else ())]
    calls, usec = local.lua[(WRITES, PIPELINED)]
    server = Server(rtt=rtt, lua_calls=calls, lua_usec=usec)
    return _section(ctx, local.seconds, remotes, repeats=repeats, remote_repeats=remote_repeats,
                    batch=warmer.batch_size, server=server)


@dataclass(frozen=True)
class Server:
    """The loopback round trip, and the server time of the Warmer's Lua calls (loopback
    cache-writes runs)."""

    rtt: float
    lua_calls: int
    lua_usec: int

    @property
    def per_call_ms(self) -> float:
        return self.lua_usec / self.lua_calls / 1000 if self.lua_calls else 0.0


def _row(label: str, what: str, how: str, secs: float, loop: float) -> tuple[str, ...]:
    return (label, what, how, fmt_ms(secs), fmt_int(PRODUCTS / secs), fmt_ratio(ratio(loop, secs)))


def _section(
    ctx: Context, median: dict[tuple[str, str], float], remotes: Sequence[Remote], *,
    repeats: int, remote_repeats: int, batch: int, server: Server,
) -> Section:
    calls = 2 * -(-PRODUCTS // batch)  # prepare + fill per batch
    local = f"loopback, {fmt_us(server.rtt)} µs RTT"
    rows = []
    speedups: dict[str, float] = {}
    for what in (WRITES, END_TO_END):
        loop = median[(what, LOOP)]
        speedups[what] = ratio(loop, median[(what, PIPELINED)])
        rows += [_row(local, what, how, median[(what, how)], loop)
                 for how in (LOOP, PIPELINED, PLAIN) if (what, how) in median]
    for remote in remotes:
        rows += [_row(remote.label, WRITES, how, remote.seconds[how], remote.seconds[LOOP])
                 for how in (LOOP, PIPELINED, PLAIN)]
    table = Table(("round trip (median PING)", "measured", "path", "ms (median)",
                   "products/s", "speed-up"), tuple(rows), align="lllrrr")
    groups = [
        (f"{local}\nwrites only: {fmt_ratio(speedups[WRITES])}",
         {how: median[(WRITES, how)] for how in (LOOP, PIPELINED, PLAIN)}),
        (f"{local}\nquery + writes: {fmt_ratio(speedups[END_TO_END])}",
         {how: median[(END_TO_END, how)] for how in (LOOP, PIPELINED)}),
        *((f"proxy, {fmt_ms(r.rtt)} ms RTT\nwrites only: {fmt_ratio(r.speedup)}", r.seconds)
          for r in remotes),
    ]
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        [label for label, _ in groups],
        {how: [values[how] * 1e3 if how in values else None for _, values in groups]
         for how in (LOOP, PIPELINED, PLAIN)},
        title=f"Warming {PRODUCTS:,} products, lower is better (under each group: "
              "the Warmer's speed-up)",
        ylabel="ms (log scale)",
        log=True,
        value_format="{:,.0f}",
    )
    notes = (
        f"{PRODUCTS:,} seeded products, median of {repeats} run(s) per path over loopback; "
        f"through the proxy, per delay, {remote_repeats} run(s) of the loop and "
        f"{remote_repeats * PIPELINED_RUNS[PIPELINED]} of each pipelined path (they take "
        "~1/30 of the loop's time); one untimed run of each path first (through the proxy "
        f"over the first {batch} products), the paths alternating order between runs; the "
        "bench keys are deleted before each run. "
        f"The pipelined path is `lambda_app.caching.warming.Warmer` (batches of {batch}: "
        "one Lua call takes the write leases, one stores the batch, each value with its "
        "own jittered TTL and only while its lease holds). The per-key loop is the "
        f"usual `SETEX key {SOURCE_TTL_S} payload` per product, with the same payload "
        "bytes. The *plain pipeline* (`SET PX` per key, same batches, no leases) is the "
        "most pipelining alone can buy.",
        "*End to end* (loopback only) adds the database: the loop's single `ORDER BY views "
        "DESC LIMIT 10000` query, and for the warmer the app's warm service (the same query "
        "for the ids, then one `WHERE id IN (...)` query per batch). PyMySQL decoding "
        "10,000 rows is then a large, equal share of both paths, so the end-to-end ratio "
        "is smaller than the cache-writes ratio.",
        *_proxy_notes(median, remotes, server, calls, batch),
    )
    checks = [Check(
        f"warming 10,000 products ≥ {TARGET:.0f}x faster pipelined than the per-key loop "
        f"(cache writes, loopback, {fmt_us(server.rtt)} µs RTT)",
        f"{fmt_ratio(speedups[WRITES])} cache writes only; "
        f"{fmt_ratio(speedups[END_TO_END])} end to end",
        f"{TARGET:.0f}x",
        speedups[WRITES] >= TARGET,
    )]
    checks += [Check(
        f"warming 10,000 products ≥ {TARGET:.0f}x faster pipelined than the per-key loop "
        f"(cache writes, {fmt_ms(r.rtt)} ms RTT, measured through a delay proxy)",
        f"{fmt_ratio(r.speedup)} ({fmt_ms(r.seconds[LOOP])} vs "
        f"{fmt_ms(r.seconds[PIPELINED])} ms)",
        f"{TARGET:.0f}x",
        r.speedup >= TARGET,
    ) for r in remotes]
    headline = ", ".join(f"{fmt_ratio(r.speedup)} at {fmt_ms(r.rtt)} ms RTT" for r in remotes)
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        checks=tuple(checks), quick=ctx.quick, date=now_utc(),
        headline=f"pipelined {headline + '; ' if headline else ''}"
                 f"{fmt_ratio(speedups[WRITES])} over loopback (writes only), "
                 f"{fmt_ratio(speedups[END_TO_END])} end to end",
    )


def _proxy_notes(median: dict[tuple[str, str], float], remotes: Sequence[Remote],
                 server: Server, calls: int, batch: int) -> tuple[str, ...]:
    """Why loopback understates pipelining, and how the proxy rows were taken."""
    loopback = (
        f"Over loopback a round trip costs only {fmt_us(server.rtt)} µs (median of 2,000 "
        f"`PING`s), so the loop's {PRODUCTS:,} round trips add up to just "
        f"{fmt_ms(median[(WRITES, LOOP)])} ms, and the Warmer's lease-guarded Lua batches "
        f"weigh more than the round trips they save: {fmt_ms(server.per_call_ms / 1000)} ms "
        f"of server time per call ({batch} keys), during which the single-threaded server "
        "serves nobody else."
    )
    if not remotes:
        return (loopback + " The proxy rows were skipped: the proxy forwards a standalone "
                "server on loopback only.",)
    far = remotes[-1]
    added = " and ".join(f"{fmt_ms(r.rtt - server.rtt)} ms at +{r.one_way_ms:g} ms each way"
                         for r in remotes)
    return (
        loopback,
        "The *proxy* rows are measured, not modelled: `bench/latency_proxy.py` forwards a "
        "free loopback port to the same server and holds every chunk for the configured "
        "delay in each direction (a delay line: pipelined chunks overlap their delays; "
        "bytes unchanged and in order; no bandwidth limit), like the ~0.2-0.5 ms round "
        "trips of a same-AZ ElastiCache client. The RTT given is the median of "
        f"{2 * RTT_PINGS} `PING`s through the proxy, half just before that delay's runs and "
        "half just after; it exceeds twice the delay by the proxy's thread hand-offs and "
        f"sleep overruns: it added {added} to loopback's round trip. The proxied "
        "client is built by `build_valkey` from the app's settings (same connect/read "
        "timeouts, retries and health checks); only host and port point at the proxy.",
        f"The loop pays the round trip {PRODUCTS:,} times, the Warmer {calls} times: at "
        f"{fmt_ms(far.rtt)} ms that is ~{fmt_ms(PRODUCTS * far.rtt)} ms against "
        f"~{fmt_ms(calls * far.rtt)} ms of the Warmer's {fmt_ms(far.seconds[PIPELINED])} ms; "
        "the rest of the Warmer's time is its own work (serialising the rows, packing "
        f"{2 * batch:,} keys per call, reading the replies) and the server's Lua time, "
        "which does not shrink with the round trip.",
    )
