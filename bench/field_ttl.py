"""A volatile price inside a long-lived product: field TTL vs expiring the whole product.

The price may be 10 s stale, the rest of the product an hour. Three ways to honour that,
each read through by one caller for the same stretch of time on a valkey-server of its
own (:mod:`bench.scratch_server`), loading from the benchmarks' MySQL database:

* **whole product, 10 s TTL**: the usual answer; every expiry reloads every column and
  sends the whole product back to the cache;
* **field TTL** (Valkey 9 ``HSETEX ... PX``, :mod:`lambda_app.caching.field_ttl`): only the
  price expires; a read that misses it reloads the price column alone;
* **companion keys**, the same pattern's fallback for servers without field TTL.

TTLs are scaled down (the price's to 200 ms, the product's to 72 s: the same 1:360
ratio) so the run takes seconds. Figures: database loads (full rows vs single columns),
bytes between the app and Valkey (``INFO stats`` ``total_net_input_bytes`` plus
``total_net_output_bytes``, so protocol overhead included) and read latency.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.context import Context, now_utc
from bench.report import Section, Table, fmt_int, fmt_ratio, fmt_us, ratio
from bench.scratch_server import flush, scratch_valkey
from lambda_app.caching.field_ttl import FieldTtlCache, supports_field_ttl
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.storage import Entry, StringStorage

NAME = "field_ttl"
TITLE = "A volatile price inside a product: hash field TTL vs expiring the whole product"
PRICE_TTL_MS = 200
PRODUCT_TTL_MS = PRICE_TTL_MS * 360
PRODUCTS = 20
WHOLE = "whole product expires with its price (string, 200 ms TTL)"
NATIVE = "price field TTL (HSETEX, Valkey 9)"
COMPANIONS = "price in a companion key (fallback for Valkey 8)"


@dataclass(frozen=True)
class Run:
    label: str
    reads: int
    full_loads: int
    column_loads: int
    wire_bytes: int
    db_bytes: int
    latencies: list[float]


def _wire_bytes(client: Any) -> int:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])


def _db_bytes(conn: Any) -> int:
    """This connection's bytes to and from MySQL (session status counters)."""
    with conn.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Bytes_sent', "
                       "'Bytes_received')")
        rows = cursor.fetchall()
    conn.commit()
    return sum(int(row["Value"]) for row in rows)


def _drive(label: str, ctx: Context, client: Any, *, seconds: float,
           read: Callable[[int], Any], counts: dict[str, int]) -> Run:
    latencies: list[float] = []
    before, db_before = _wire_bytes(client), _db_bytes(ctx.db)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        began = time.perf_counter()
        read(1 + n % PRODUCTS)
        latencies.append(time.perf_counter() - began)
        n += 1
    wire, db = _wire_bytes(client) - before, _db_bytes(ctx.db) - db_before
    return Run(label, n, counts["full"], counts["column"], wire, db, latencies)


def run(ctx: Context) -> Section:
    seconds = 1.0 if ctx.quick else 4.0
    keys = KeyBuilder("benchfield")
    repo = ctx.products
    runs: list[Run] = []
    with scratch_valkey() as (_server, client):
        native_ok = supports_field_ttl(client)
        strings = StringStorage(client)

        def whole() -> Run:
            counts = {"full": 0, "column": 0}

            def read(product_id: int) -> Any:
                key = keys.key("product", product_id)
                entry = strings.read(key)
                if entry is not None:
                    return entry.value
                counts["full"] += 1
                row = repo.get(product_id)
                strings.write(key, Entry(row), PRICE_TTL_MS)
                return row

            return _drive(WHOLE, ctx, client, seconds=seconds, read=read, counts=counts)

        def fields(label: str, native: bool) -> Run:
            cache = FieldTtlCache(client, volatile={"price": PRICE_TTL_MS},
                                  ttl_ms=PRODUCT_TTL_MS, keys=keys, native=native)
            counts = {"full": 0, "column": 0}

            def read(product_id: int) -> Any:
                def load() -> Any:
                    counts["full"] += 1
                    return repo.get(product_id)

                def load_fields(names: Any) -> Any:
                    counts["column"] += 1
                    return repo.columns(product_id, list(names)) or {}

                return cache.get(keys.key("product", product_id), load, load_fields).value

            return _drive(label, ctx, client, seconds=seconds, read=read, counts=counts)

        flush(client)
        runs.append(whole())
        if native_ok:
            flush(client)
            runs.append(fields(NATIVE, native=True))
        flush(client)
        runs.append(fields(COMPANIONS, native=False))
    return _section(ctx, runs, seconds, native_ok)


def _per(total: int, count: int) -> float:
    return total / max(1, count)


def _section(ctx: Context, runs: list[Run], seconds: float, native_ok: bool) -> Section:
    rows = []
    for r in runs:
        refreshes = r.full_loads + r.column_loads
        rows.append((
            r.label, fmt_int(r.reads), fmt_int(r.full_loads), fmt_int(r.column_loads),
            fmt_int(_per(r.db_bytes, refreshes)), fmt_int(_per(r.wire_bytes, r.reads)),
            fmt_us(statistics.median(r.latencies)),
        ))
    table = Table(("storage", "reads", "full-row loads", "price-only loads",
                   "MySQL bytes per load", "Valkey bytes per read", "read p50 µs"),
                  tuple(rows), align="lrrrrrr")
    best = runs[1] if len(runs) > 2 else runs[-1]
    notes = (
        f"One caller reading {PRODUCTS} products round-robin for {seconds:g} s per row; the "
        f"price expires after {PRICE_TTL_MS} ms, the product after {PRODUCT_TTL_MS / 1000:g} s "
        "(10 s and 1 h scaled by the same factor). A full-row load reads every column of "
        "the product; a price-only load reads one column (`ProductRepository.columns`). "
        "Bytes are counted on the wire by the servers: `INFO stats` for Valkey, the "
        "session's `Bytes_sent`/`Bytes_received` for MySQL.",
        "With the whole product expiring at the price's TTL, every refresh moves the "
        "whole product twice (the database row in, the cached value out). With field "
        "TTL the product stays; a refresh reloads one column and writes one field "
        "(`HSETEX key XX PX`), and a hit is still one `HGETALL`. The saving is on the "
        "database: 20x fewer full-row loads, each refresh a fraction of the bytes. The "
        "price is a larger, slower hit: the hash's reply carries field names and type "
        "tags, and `HGETALL` plus per-field decoding costs more than one `GET` of a JSON "
        "string. Field TTL pays off when refreshes are expensive (wide rows, joins, a "
        "loaded database) rather than when hits dominate.",
        ("" if native_ok else "This server has no hash field TTL (Valkey < 9.0): only the "
         "companion-key fallback ran."),
    )
    base = runs[0]
    base_db = _per(base.db_bytes, base.full_loads + base.column_loads)
    best_db = _per(best.db_bytes, best.full_loads + best.column_loads)
    base_hit, best_hit = _per(base.wire_bytes, base.reads), _per(best.wire_bytes, best.reads)
    return Section(
        name=NAME, title=TITLE, notes=tuple(n for n in notes if n), tables=(table,),
        quick=ctx.quick, date=now_utc(),
        headline=f"full-row loads {base.full_loads} -> {best.full_loads}; MySQL bytes per "
                 f"load {fmt_ratio(ratio(best_db, base_db))}; Valkey bytes per read "
                 f"{fmt_ratio(ratio(best_hit, base_hit))}",
    )
