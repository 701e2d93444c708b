"""The project's cache-aside against the Python caching libraries, same row, same server.

dogpile.cache (``dogpile.cache.valkey``), cashews and aiocache (async, on redis-py) each
cache one product row as their documentation shows, on a server of their own, timed in
alternating rounds (the async ones inside their event loop). Rows:

* hit p50/p99 against a bare ``GET`` + ``json.loads`` of the same row;
* a miss (the database row loaded and stored) against the loader alone;
* loader calls when 200 callers ask for an absent key at once, in one process and
  spread over 8 processes (the loader takes 50 ms);
* whether ``Decimal`` and ``datetime`` come back equal and of the same type;
* ``MEMORY USAGE`` of the stored row.

Defaults throughout, but aiocache gets its pickle serializer (its JSON default cannot
store a ``Decimal``) and a pool sized for 200 concurrent callers (it raises past it).
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.context import Context, now_utc
from bench.report import Check, Section, Table, fmt_int, fmt_ratio, fmt_us, ratio
from bench.scratch_server import flush, scratch_valkey
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from scripts import servers

NAME = "peers"
TITLE = "Against the Python caching libraries: hit, miss, stampede, exactness, memory"
CALLERS = 200
PROCESSES = 8
SLOW_LOAD_S = 0.05
LIBRARIES = ("this project", "dogpile.cache", "cashews", "aiocache")


# --------------------------------------------------------------------------- adapters


class Adapter:
    """One library: ``get(key, loader)`` reads through; timings run where it runs."""

    name = ""
    is_async = False

    def __init__(self, server: servers.ValkeyServer) -> None:
        self.server = server

    def key(self, name: str) -> str:
        return name

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        raise NotImplementedError

    async def aget(self, key: str, loader: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


class Project(Adapter):
    name = "this project"

    def __init__(self, server: servers.ValkeyServer) -> None:
        super().__init__(server)
        self.client = servers.valkey_client(server, timeout=10.0)
        self.cache = CacheAside(self.client, keys=KeyBuilder("project"))

    def key(self, name: str) -> str:
        return self.cache.keys.key("product", name)

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        return self.cache.get("product", key, loader).value

    def close(self) -> None:
        self.client.close()


class Dogpile(Adapter):
    name = "dogpile.cache"

    def __init__(self, server: servers.ValkeyServer) -> None:
        super().__init__(server)
        from dogpile.cache import make_region

        self.region = make_region().configure(
            "dogpile.cache.valkey", expiration_time=3600,
            arguments={"host": server.host, "port": server.port,
                       "valkey_expiration_time": 7200},
        )

    def key(self, name: str) -> str:
        return f"dogpile:product:{name}"

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        return self.region.get_or_create(key, loader)


class Cashews(Adapter):
    name = "cashews"
    is_async = True

    def __init__(self, server: servers.ValkeyServer) -> None:
        super().__init__(server)
        from cashews import Cache

        self.cache = Cache()
        self.cache.setup(f"redis://{server.host}:{server.port}/0", client_side=False)

    def key(self, name: str) -> str:
        return f"cashews:product:{name}"

    async def aget(self, key: str, loader: Callable[[], Any]) -> Any:
        async def load() -> Any:
            return loader()

        return await self.cache.get_or_set(key, load, expire=3600)


class Aiocache(Adapter):
    name = "aiocache"
    is_async = True

    def __init__(self, server: servers.ValkeyServer) -> None:
        super().__init__(server)
        from aiocache import RedisCache
        from aiocache.serializers import PickleSerializer

        self.cache = RedisCache(  # a pool for every concurrent caller of the stampede row
            endpoint=server.host, port=server.port, serializer=PickleSerializer(),
            pool_max_size=CALLERS + 10,
        )

    def key(self, name: str) -> str:
        return f"aiocache:product:{name}"

    async def aget(self, key: str, loader: Callable[[], Any]) -> Any:
        value = await self.cache.get(key)
        if value is None:
            value = loader()
            await self.cache.set(key, value, ttl=3600)
        return value


ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls for cls in (Project, Dogpile, Cashews, Aiocache)
}


def _timed(adapter: Adapter, loop: asyncio.AbstractEventLoop, key: str, *,
           loader: Callable[[], Any], count: int,
           before: Callable[[], Any] | None = None) -> list[float]:
    """``count`` timings of one read, inside the adapter's event loop if it has one."""
    if not adapter.is_async:
        out = []
        for _ in range(count):
            if before is not None:
                before()
            began = time.perf_counter()
            adapter.get(key, loader)
            out.append(time.perf_counter() - began)
        return out

    async def run() -> list[float]:
        out = []
        for _ in range(count):
            if before is not None:
                before()
            began = time.perf_counter()
            await adapter.aget(key, loader)
            out.append(time.perf_counter() - began)
        return out

    return loop.run_until_complete(run())


def _read_once(adapter: Adapter, loop: asyncio.AbstractEventLoop, key: str,
               loader: Callable[[], Any]) -> Any:
    if adapter.is_async:
        return loop.run_until_complete(adapter.aget(key, loader))
    return adapter.get(key, loader)


# --------------------------------------------------------------------------- stampede


def _slow_loader(server: servers.ValkeyServer, row: dict[str, Any], counter: str
                 ) -> Callable[[], Any]:
    counting = servers.valkey_client(server, timeout=10.0)

    def load() -> Any:
        counting.incr(counter)
        time.sleep(SLOW_LOAD_S)
        return row

    return load


def _callers(adapter: Adapter, key: str, loader: Callable[[], Any], callers: int,
             start: Any) -> None:
    """``callers`` concurrent readers of ``key`` (threads, or tasks of one loop)."""
    if adapter.is_async:
        async def everyone() -> None:
            await asyncio.gather(*(adapter.aget(key, loader) for _ in range(callers)))

        start.wait()
        asyncio.run(everyone())
        return
    threads = [threading.Thread(target=adapter.get, args=(key, loader))
               for _ in range(callers)]
    start.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def _worker(name: str, server: servers.ValkeyServer, key: str, *, row: dict[str, Any],
            counter: str, callers: int, start: Any) -> None:
    adapter = ADAPTERS[name](server)
    try:
        _callers(adapter, key, _slow_loader(server, row, counter), callers, start)
    finally:
        adapter.close()


def stampede(name: str, server: servers.ValkeyServer, row: dict[str, Any], client: Any,
             processes: int) -> int:
    """Loader calls when ``CALLERS`` readers (over ``processes``) find the key absent."""
    probe = ADAPTERS[name](server)
    key = probe.key(f"stampede{processes}")
    probe.close()
    counter = f"bench:peers:loads:{name}:{processes}"
    client.delete(counter)
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_worker, args=(name, server, key), kwargs={
            "row": row, "counter": counter, "callers": CALLERS // processes, "start": start})
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # every worker connected and waiting
    start.set()
    for worker in workers:
        worker.join(120)
        if worker.is_alive():
            worker.kill()
            worker.join()
    return int(client.get(counter) or 0)


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    hits: list[float] = field(default_factory=list)
    misses: list[float] = field(default_factory=list)
    exact: bool = False
    memory: int = 0
    loads_one: int = 0
    loads_many: int = 0


def run(ctx: Context) -> Section:
    pid = int(ctx.products.top(1, "views")[0]["id"])
    row = ctx.rows[pid]

    def loader() -> Any:
        return ctx.products.get(pid)

    rounds, per_round = (4, 250) if ctx.quick else (10, 1_000)
    results = {name: Result() for name in LIBRARIES}
    loop = asyncio.new_event_loop()
    with scratch_valkey() as (server, client):
        flush(client)
        adapters = {name: ADAPTERS[name](server) for name in LIBRARIES}
        try:
            bare_key = "bare:product"
            client.set(bare_key, json.dumps(row, default=str))
            bare = [_bare(client, bare_key, per_round) for _ in range(rounds)]
            for name, adapter in adapters.items():
                key = adapter.key(str(pid))
                got = _read_once(adapter, loop, key, loader)
                again = _read_once(adapter, loop, key, loader)
                results[name].exact = got == row and again == row and all(
                    type(again[k]) is type(v) for k, v in row.items())
                results[name].memory = int(client.memory_usage(key, samples=0) or 0)
            for _ in range(rounds):
                for name, adapter in adapters.items():
                    key = adapter.key(str(pid))
                    results[name].hits += _timed(adapter, loop, key, loader=loader,
                                                 count=per_round)
                    miss_key = adapter.key("miss")
                    results[name].misses += _timed(
                        adapter, loop, miss_key, loader=loader, count=max(20, per_round // 20),
                        before=functools.partial(client.delete, miss_key),
                    )
            load_alone = [_load_alone(loader) for _ in range(200)]
        finally:
            for adapter in adapters.values():
                adapter.close()
            loop.close()
        for name in LIBRARIES:
            results[name].loads_one = stampede(name, server, row, client, 1)
            results[name].loads_many = stampede(name, server, row, client, PROCESSES)
    return _section(ctx, results, [t for batch in bare for t in batch], load_alone)


def _bare(client: Any, key: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        began = time.perf_counter()
        json.loads(client.get(key))
        out.append(time.perf_counter() - began)
    return out


def _load_alone(loader: Callable[[], Any]) -> float:
    began = time.perf_counter()
    loader()
    return time.perf_counter() - began


def _p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


def _section(ctx: Context, results: dict[str, Result], bare: list[float],
             load_alone: list[float]) -> Section:
    bare_p50, loader_p50 = statistics.median(bare), statistics.median(load_alone)
    rows = [("bare GET + json.loads", fmt_us(bare_p50), fmt_us(_p(bare, 99)), "1.00x",
             "", "", "", "", "", "")]
    for name, r in results.items():
        hit, miss = statistics.median(r.hits), statistics.median(r.misses)
        rows.append((
            name, fmt_us(hit), fmt_us(_p(r.hits, 99)), fmt_ratio(ratio(hit, bare_p50)),
            fmt_us(miss), fmt_ratio(ratio(miss, loader_p50)), fmt_int(r.loads_one),
            fmt_int(r.loads_many), "yes" if r.exact else "no", fmt_int(r.memory),
        ))
    table = Table(
        ("library", "hit p50 µs", "hit p99 µs", "hit vs bare", "miss p50 µs",
         "miss vs loader", f"loads, {CALLERS} callers, 1 process",
         f"loads, {CALLERS} callers, {PROCESSES} processes", "exact Decimal/datetime",
         "MEMORY USAGE B"),
        tuple(rows), align="lrrrrrrrlr",
    )
    ours = results["this project"]
    peers = {n: r for n, r in results.items() if n != "this project"}
    best_hit = min(statistics.median(r.hits) for r in peers.values())
    best_miss = min(statistics.median(r.misses) for r in peers.values())
    our_hit, our_miss = statistics.median(ours.hits), statistics.median(ours.misses)
    checks = (
        Check("hit p50 ≤ best peer's", fmt_us(our_hit), fmt_us(best_hit),
              our_hit <= best_hit),
        Check("hit p50 ≤ 1.0x bare GET + json.loads", fmt_ratio(ratio(our_hit, bare_p50)),
              "1.00x", our_hit <= bare_p50),
        Check("miss ≤ best peer's", fmt_us(our_miss), fmt_us(best_miss), our_miss <= best_miss),
        Check(f"1 load for {CALLERS} callers in 1 and {PROCESSES} processes",
              f"{ours.loads_one} / {ours.loads_many}", "1 / 1",
              ours.loads_one == 1 and ours.loads_many == 1),
    )
    notes = (
        f"The loader reads the product from MariaDB ({fmt_us(loader_p50)} µs p50 alone). "
        f"Stampede rows: the key is absent and every caller starts at once; the loader "
        f"sleeps {SLOW_LOAD_S * 1000:g} ms and counts itself in Valkey, so calls from "
        "every process are counted. Each library as configured by default: dogpile's "
        "lock is a thread mutex unless `distributed_lock` is set; cashews and aiocache "
        "take no lock unless their `locked`/`cached_stampede` variants are used.",
        "Hits are timed in rounds that alternate between the libraries; the async "
        "libraries inside their own event loop.",
        "A miss here takes three round trips: the `GET` that misses, one script that "
        "takes the recompute lock and the fill lease, one that stores and releases "
        "both. dogpile's default miss takes two (no cross-process lock, no lease), so "
        "it is cheaper, and it is the one that lets one load per process through and "
        "can store a row read before a concurrent write. Folding the claim into the "
        "read would save the round trip on a miss but cost every hit: the claim script "
        "answers a hit in ~78 µs where `GET` takes ~39 µs.",
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), checks=checks,
        quick=ctx.quick, date=now_utc(),
        headline=f"hit {fmt_ratio(ratio(our_hit, bare_p50))} bare (best peer "
                 f"{fmt_ratio(ratio(best_hit, bare_p50))}); miss "
                 f"{fmt_ratio(ratio(our_miss, loader_p50))} the loader (best peer "
                 f"{fmt_ratio(ratio(best_miss, loader_p50))}); stampede loads "
                 f"{ours.loads_one}/{ours.loads_many}",
    )
