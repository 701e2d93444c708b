"""Stampede: database loads when 200 concurrent callers read a hot key across its expiry.

The driver is the one ``tests/integration/caching/test_read_stampede.py`` uses, made
reusable (:func:`run_hot_key`, :class:`CountingLoader`): a hot product key is seeded
with a short TTL, then 200 threads keep reading it through :class:`CacheAside` until
after it expired. The loader wraps the real repository query plus a fixed delay standing
in for an expensive query, so the recompute window is wide enough to matter. Per
strategy it counts loads (and when they happened relative to the expiry) and failed or
wrong reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.context import Context, now_utc
from bench.report import Section, Table, bar_chart, fmt_int
from lambda_app.caching.cache_aside import CacheAside
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.policy import DEFAULT_POLICIES, ClassPolicy
from lambda_app.caching.stampede import STRATEGIES, RecomputeLock, Stampede
from lambda_app.caching.ttl import TtlPolicy

NAME = "stampede"
TITLE = "Stampede: 200 callers on an expiring hot key"

CALLERS = 200
TTL_S = 3.0
LOAD_S = 0.2  # the "expensive query"
AFTER_EXPIRY_S = 0.5
PAUSE_S = 0.05  # between one caller's reads: steady traffic, not a busy loop
LABELS = {"none": "unprotected", "lock": "lock", "xfetch": "XFetch"}


class CountingLoader:
    """Runs ``load`` after ``delay_s``; counts calls (and their times) across threads."""

    def __init__(self, load: Callable[[], Any], *, delay_s: float = LOAD_S) -> None:
        self.load = load
        self.delay_s = delay_s
        self.calls = 0
        self.started: list[float] = []
        self._count = threading.Lock()
        self._db = threading.Lock()  # one PyMySQL connection is not thread-safe

    def __call__(self) -> Any:
        with self._count:
            self.calls += 1
            self.started.append(time.monotonic())
        time.sleep(self.delay_s)
        with self._db:
            return self.load()

    def reset(self) -> None:
        with self._count:
            self.calls = 0
            self.started.clear()


@dataclass
class HotKeyRun:
    """What one strategy did: loads after the seed, reads, failed or wrong reads."""

    strategy: str
    loads: int
    reads: int
    bad: list[Any] = field(default_factory=list)
    #: When each load started, in seconds relative to the key's expiry (< 0: early).
    load_offsets: list[float] = field(default_factory=list)

    @property
    def early_loads(self) -> int:
        return sum(1 for offset in self.load_offsets if offset < 0)


def hot_key_cache(client: Any, strategy: Stampede, *, ttl_s: float = TTL_S,
                  keys: KeyBuilder | None = None) -> CacheAside:
    """A CacheAside whose product class uses ``strategy`` and an exact ``ttl_s`` TTL."""
    policies = dict(DEFAULT_POLICIES)
    policies["product"] = ClassPolicy(stampede=strategy)
    return CacheAside(
        client,
        ttl=TtlPolicy(jitter=0).replace(product=ttl_s),
        policies=policies,
        lock=RecomputeLock(client, wait_ms=5_000),
        keys=keys,
    )


def run_hot_key(
    client: Any,
    strategy: Stampede,
    loader: CountingLoader,
    key: str,
    *,
    callers: int = CALLERS,
    ttl_s: float = TTL_S,
    after_expiry_s: float = AFTER_EXPIRY_S,
    pause_s: float = PAUSE_S,
    keys: KeyBuilder | None = None,
) -> HotKeyRun:
    """Seed ``key``, then ``callers`` threads read it until ``after_expiry_s`` past expiry."""
    cache = hot_key_cache(client, strategy, ttl_s=ttl_s, keys=keys)
    expected = cache.get("product", key, loader).value  # the seed load
    expiry = time.monotonic() + int(client.pttl(key)) / 1000  # when the server drops it
    loader.reset()
    deadline = expiry + after_expiry_s
    bad: list[Any] = []
    reads = [0] * callers
    start = threading.Barrier(callers)

    def caller(index: int) -> None:
        start.wait()
        while time.monotonic() < deadline:
            try:
                value = cache.get("product", key, loader).value
            except Exception as exc:  # counted and reported, never fatal
                bad.append(exc)
            else:
                if value != expected:
                    bad.append(value)
            reads[index] += 1
            time.sleep(pause_s)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return HotKeyRun(
        strategy=strategy,
        loads=loader.calls,
        reads=sum(reads),
        bad=bad,
        load_offsets=[at - expiry for at in loader.started],
    )


def run(ctx: Context) -> Section:
    callers = ctx.scaled(CALLERS, 50)
    ttl_s = TTL_S if not ctx.quick else 2.0  # XFetch needs TTL >> its load time
    product = ctx.products.top(1, "views")[0]
    pid = int(product["id"])
    runs: dict[str, HotKeyRun] = {}
    for strategy in STRATEGIES:
        loader = CountingLoader(lambda: ctx.products.get(pid))
        key = ctx.keys.key("product", pid, f"hot-{strategy}")
        runs[strategy] = run_hot_key(ctx.client, strategy, loader, key, callers=callers,
                                     ttl_s=ttl_s, keys=ctx.keys)
        ctx.say(f"{LABELS[strategy]}: {runs[strategy].loads} loads")
    ctx.cleanup()
    return _section(ctx, runs, callers, ttl_s)


def _section(ctx: Context, runs: dict[str, HotKeyRun], callers: int, ttl_s: float) -> Section:
    rows = tuple(
        (LABELS[name], fmt_int(r.loads), fmt_int(r.early_loads), fmt_int(r.loads - r.early_loads),
         fmt_int(r.reads), fmt_int(len(r.bad)))
        for name, r in runs.items()
    )
    table = Table(("strategy", "database loads", "before expiry", "after expiry", "reads",
                   "failed or wrong reads"), rows, align="lrrrrr")
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        [LABELS[name] for name in runs],
        {"database loads": [max(r.loads, 0) for r in runs.values()]},
        title=f"Database loads, {callers} callers reading a hot key across its expiry",
        ylabel="loads",
        value_format="{:,.0f}",
        hlines=((callers, f"{callers} callers"),),
    )
    notes = (
        f"{callers} threads share one `CacheAside` and read the most viewed product every "
        f"{PAUSE_S * 1000:.0f} ms from just after it was cached (TTL {ttl_s:g} s, no "
        f"jitter) until {AFTER_EXPIRY_S} s after it expired. The loader is the real "
        f"primary-key query plus {LOAD_S * 1000:.0f} ms standing in for an expensive one. "
        "*Unprotected* (`stampede=\"none\"`): every caller that misses loads. *Lock*: the "
        "first caller takes a `SET NX PX` lock and loads; the others re-read with "
        "backoff until the value is back. *XFetch*: a caller recomputes early with "
        "probability rising as expiry nears (`now - delta*beta*ln(rand) >= expiry`, "
        "beta 1, delta = the measured load time), while the others keep hitting.",
        "The same driver (`bench.stampede.run_hot_key`) can serve "
        "`tests/integration/caching/test_read_stampede.py`, which asserts the counts "
        "(unprotected about all callers, lock exactly 1, XFetch a handful).",
    )
    by = {name: r.loads for name, r in runs.items()}
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        quick=ctx.quick, date=now_utc(),
        headline=f"loads: unprotected {by['none']}, lock {by['lock']}, XFetch {by['xfetch']}",
    )
