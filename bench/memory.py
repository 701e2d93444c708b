"""Memory per product: JSON string vs hash vs one key per field.

Runs on a valkey-server of its own (:mod:`bench.scratch_server`), so it can ``FLUSHALL`` and
flip ``hash-max-listpack-value`` without touching the app's server. Each shape stores
the same product rows with the library's own encodings: ``StringStorage`` (the JSON
string), ``HashStorage`` (one field per column), and the hash's fields written as
separate string keys. Two figures per shape: ``MEMORY USAGE`` (key, value and its
dictionary entry; ``SAMPLES 0`` = exact) and the growth of ``used_memory`` per product,
which also counts each key's TTL entry and the keyspace's own tables.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.context import Context, Row, now_utc
from bench.report import Section, Table, bar_chart, fmt_int, fmt_ratio, ratio
from bench.scratch_server import flush, scratch_valkey, used_memory
from lambda_app.caching.storage import (
    HASH_MAX_LISTPACK_VALUE,
    Entry,
    HashStorage,
    StringStorage,
)
from scripts import servers
from scripts.servers.base import VALKEY_SERVER_BINARY_ENV

NAME = "memory"
TITLE = "Memory per product: hash vs JSON string vs one key per field"
TTL_MS = 3_600_000
META_FIELD = b"$m"

JSON = "JSON string (library string shape)"
HASH = "hash (library hash shape, listpack)"
HASHTABLE = "hash forced to hashtable encoding"
PER_FIELD = "one string key per field"
DESCRIPTION_CHARS = 120
LONG_DEFAULT = f"hash, {DESCRIPTION_CHARS}-char descriptions, Valkey's default listpack limit"
LONG_TUNED = (f"hash, {DESCRIPTION_CHARS}-char descriptions, the parameter group's "
              f"hash-max-listpack-value {HASH_MAX_LISTPACK_VALUE}")
JSON_LONG = f"JSON string, {DESCRIPTION_CHARS}-char descriptions"
FILLER = " handmade, tested, shipped in recyclable packaging with a two-year warranty" * 3


@dataclass(frozen=True)
class ShapeRun:
    label: str
    keys_per_object: float
    usage: float  # mean MEMORY USAGE per object
    growth: float  # used_memory growth per object
    encoding: str


Writer = Callable[[str, Row], list[str]]


def writers(client: Any) -> dict[str, Writer]:
    """How each shape stores one row under ``key``; returns the keys it wrote."""
    strings, hashes = StringStorage(client), HashStorage(client)

    def string(key: str, row: Row) -> list[str]:
        strings.write(key, Entry(row), TTL_MS)
        return [key]

    def hash_(key: str, row: Row) -> list[str]:
        hashes.write(key, Entry(row), TTL_MS)
        return [key]

    def per_field(key: str, row: Row) -> list[str]:
        """Each column as its own key (value bytes as the hash shape encodes them)."""
        names = []
        pipe = client.pipeline(transaction=False)
        for field, value in hashes.fields(Entry(row)).items():
            if field != META_FIELD:
                names.append(f"{key}:{field.decode()}")
                pipe.set(names[-1], value, px=TTL_MS)
        pipe.execute()
        return names

    return {JSON: string, HASH: hash_, HASHTABLE: hash_, PER_FIELD: per_field}


def measure_shape(client: Any, label: str, rows: Sequence[tuple[str, Row]],
                  write: Writer) -> ShapeRun:
    """Write the rows twice, measuring the second pass: the first one also pays one-off
    allocations (the keyspace's tables, the Lua client's buffers for script writes)."""
    for _ in range(2):
        flush(client)
        before = used_memory(client)
        keys_of = [write(key, row) for key, row in rows]
        growth = used_memory(client) - before
    pipe = client.pipeline(transaction=False)
    for keys in keys_of:
        for key in keys:
            pipe.memory_usage(key, samples=0)
    usages = iter(pipe.execute())
    per_object = [sum(int(next(usages)) for _ in keys) for keys in keys_of]
    encoding = client.object("encoding", keys_of[0][0])
    return ShapeRun(
        label=label,
        keys_per_object=sum(len(k) for k in keys_of) / len(keys_of),
        usage=statistics.fmean(per_object),
        growth=growth / len(rows),
        encoding=encoding.decode() if isinstance(encoding, bytes) else str(encoding),
    )


def run(ctx: Context) -> Section:
    count = ctx.scaled(1_000, 200)
    rows = [(ctx.keys.key("product", pid), ctx.rows[pid]) for pid in sorted(ctx.rows)[:count]]
    with scratch_valkey() as (_server, client):
        info = client.info("server") | client.info("memory")
        engine = (f"valkey-server {info.get('valkey_version') or info.get('redis_version')}, "
                  f"{info.get('mem_allocator', '?')}")
        limits = {name: int(value) for name, value in client.config_get("hash-max-listpack-*")
                  .items()}
        write = writers(client)
        shapes = {label: measure_shape(client, label, rows, write[label])
                  for label in (JSON, HASH, PER_FIELD)}
        client.config_set("hash-max-listpack-value", 0)
        shapes[HASHTABLE] = measure_shape(client, HASHTABLE, rows, write[HASHTABLE])
        # The catalogue's real descriptions run to about 120 characters: over the default
        # limit (64 bytes), one field makes the whole hash a hashtable.
        long_rows = [(key, {**row, "description": (row["description"] + FILLER)[
            :DESCRIPTION_CHARS]}) for key, row in rows]
        shapes[JSON_LONG] = measure_shape(client, JSON_LONG, long_rows, write[JSON])
        client.config_set("hash-max-listpack-value", limits.get("hash-max-listpack-value", 64))
        shapes[LONG_DEFAULT] = measure_shape(client, LONG_DEFAULT, long_rows, write[HASH])
        client.config_set("hash-max-listpack-value", HASH_MAX_LISTPACK_VALUE)
        shapes[LONG_TUNED] = measure_shape(client, LONG_TUNED, long_rows, write[HASH])
        fields = [HashStorage(client).fields(Entry(row)) for _, row in rows]
        payload = statistics.fmean(len(StringStorage(client).dumps(Entry(r))) for _, r in rows)
    longest = max(len(value) for item in fields for value in item.values())
    most = max(len(item) for item in fields)
    ordered = [shapes[label] for label in (JSON, HASH, HASHTABLE, PER_FIELD, JSON_LONG,
                                            LONG_DEFAULT, LONG_TUNED)]
    section = _section(ctx, ordered, engine=engine, count=count, limits=limits,
                       longest=longest, most=most,
                       payload=payload)
    return dataclasses.replace(section, tables=(*section.tables, _engines(rows)))


def engine_binaries() -> list[str]:
    """Every distinct valkey-server at hand: the pip-provided one (libc malloc), the one
    ``VALKEY_SERVER_BINARY`` names (Debian's jemalloc build in ``make bench-shipped``),
    and the system's."""
    candidates = (servers.pip_valkey_binary(),
                  os.environ.get(VALKEY_SERVER_BINARY_ENV, "").strip() or None,
                  shutil.which("valkey-server"))
    chosen: dict[str, str] = {}
    for binary in candidates:
        if binary:
            chosen.setdefault(os.path.realpath(binary), binary)
    return list(chosen.values())


def _engines(rows: Sequence[tuple[str, Row]]) -> Table:
    """JSON string and listpack hash per product on each engine at hand."""
    out: list[tuple[str, ...]] = []
    for binary in engine_binaries():
        with scratch_valkey(binary) as (_server, client):
            info = client.info("server") | client.info("memory")
            client.config_set("hash-max-listpack-value", HASH_MAX_LISTPACK_VALUE)
            write = writers(client)
            runs = [measure_shape(client, label, rows, write[label]) for label in (JSON, HASH)]
        out.append((f"Valkey {info.get('valkey_version') or info.get('redis_version')}",
                    str(info.get("mem_allocator", "?")), fmt_int(runs[0].usage),
                    fmt_int(runs[1].usage), runs[1].encoding))
    return Table(("engine", "allocator", "JSON string B", "hash B", "hash encoding"),
                 tuple(out), align="llrrl",
                 caption="The same products on each engine at hand (MEMORY USAGE per "
                         "product; the allocator's size classes count in it).")


def _section(ctx: Context, shapes: list[ShapeRun], *, engine: str, count: int,
             limits: dict[str, int], longest: int, most: int, payload: float) -> Section:
    base = shapes[0]
    rows = tuple(
        (s.label, f"{s.keys_per_object:g}", fmt_int(s.usage), fmt_ratio(ratio(s.usage, base.usage)),
         fmt_int(s.growth), fmt_ratio(ratio(s.growth, base.growth)), s.encoding)
        for s in shapes
    )
    table = Table(("shape", "keys / product", "MEMORY USAGE B", "vs JSON",
                   "used_memory growth B", "vs JSON", "encoding"), rows, align="lrrrrrl")
    figure = bar_chart(
        ctx.out_dir / f"{NAME}.png",
        [s.label for s in shapes],
        {"MEMORY USAGE": [s.usage for s in shapes],
         "used_memory growth (incl. TTL entries)": [s.growth for s in shapes]},
        title=f"Bytes per product, mean of {count:,} products",
        ylabel="bytes per product",
        value_format="{:,.0f}",
        horizontal=True,
    )
    entries = limits.get("hash-max-listpack-entries", 0)
    value = limits.get("hash-max-listpack-value", 0)
    notes = (
        f"The first {count:,} seeded products (ids 1-{count:,}), each with a 1 h TTL, on a "
        f"dedicated server ({engine}: `make bench-shipped` measures on Debian's build, "
        "jemalloc as on ElastiCache); the JSON payload averages "
        f"{payload:.0f} bytes. The hash has "
        f"one field per column plus the library's `$m` meta field ({most} fields; the "
        f"longest field value is {longest} bytes).",
        f"Listpack thresholds: a hash stays a compact listpack while it has at most "
        f"`hash-max-listpack-entries` = {entries} fields and every field name and value "
        f"is at most `hash-max-listpack-value` = {value} bytes; one longer value (a long "
        "product description, say) converts it to a hashtable for good, with a "
        "dictionary entry and separate allocations per field. The *forced hashtable* "
        "row shows that cost for the same rows (`CONFIG SET hash-max-listpack-value 0`).",
        f"The last three rows give the same products {DESCRIPTION_CHARS}-character "
        "descriptions, as a real catalogue has: at Valkey's default limit their hashes are "
        "hashtables; at the limit the stack's parameter group sets "
        f"(`hash-max-listpack-value` {HASH_MAX_LISTPACK_VALUE}, "
        "`lambda_app.caching.storage.HASH_MAX_LISTPACK_VALUE`) they stay listpacks.",
        "*One key per field* pays the per-key overhead (key object, dictionary entry, "
        "TTL entry) once per column, which is why objects belong in hashes rather than "
        "in separate keys.",
    )
    hash_run = next(s for s in shapes if s.label == HASH)
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        quick=ctx.quick, date=now_utc(),
        headline=", ".join(f"{s.label.split(' (')[0]} {s.usage:.0f} B" for s in shapes),
        extra={"usage": {s.label: s.usage for s in shapes},
               "hash_vs_json": ratio(hash_run.usage, base.usage)},
    )
