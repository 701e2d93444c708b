"""What every benchmark gets: settings, lazily opened connections, seeded rows, output dir.

Connections open on first use, so ``python -m bench --only cold_start`` needs no server.
The first database access creates the benchmarks' own database (``<DB_NAME>_bench``),
applies the migrations and loads the deterministic seed when the products table does not
hold exactly the seed's 10,000 rows, so every run measures the same data and never
touches the app's.

Benchmarks write only under their own key prefix (``bench``) on the app's Valkey and
remove those keys afterwards; benchmarks that change server configuration start a
server of their own (:mod:`bench.scratch_server`).
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_app.caching.invalidation import scan_primaries, unlink
from lambda_app.caching.keys import KeyBuilder
from lambda_app.clients.mysql import connect
from lambda_app.clients.valkey import ValkeyClient, build_valkey, ping
from lambda_app.data.migrations import create_database, migrate
from lambda_app.data.repositories import ProductRepository
from lambda_app.data.seed import PRODUCTS, seed
from lambda_app.settings import Settings

PREFIX = "bench"
Row = dict[str, Any]


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Context:
    """Shared state of one ``python -m bench`` run."""

    settings: Settings
    out_dir: Path
    quick: bool = False
    keys: KeyBuilder = field(default_factory=lambda: KeyBuilder(PREFIX))
    notes: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        """A progress detail on stderr (stdout carries the one line per benchmark)."""
        print(f"    {text}", file=sys.stderr, flush=True)

    def scaled(self, full: int, quick: int) -> int:
        """An iteration count: ``full`` normally, ``quick`` with ``--quick``."""
        return quick if self.quick else full

    @functools.cached_property
    def client(self) -> ValkeyClient:
        """The app's Valkey client (bytes replies), as the handlers build it."""
        client = build_valkey(self.settings.valkey)
        ping(client, self.settings.valkey)
        return client

    @functools.cached_property
    def db(self) -> Any:
        """A PyMySQL connection to a migrated, seeded database (created if missing)."""
        create_database(self.settings.db)
        conn = connect(self.settings.db)
        migrate(conn)
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS top FROM products")
            row = cursor.fetchone()
        conn.commit()
        if (int(row["n"]), int(row["top"])) != (PRODUCTS, PRODUCTS):
            report = seed(conn, progress=False)
            self.notes.append(
                f"The database did not hold the seed's {PRODUCTS:,} products, so it was "
                f"re-seeded ({report.seconds:.1f} s, checksum {report.checksum[:12]})."
            )
        return conn

    @functools.cached_property
    def products(self) -> ProductRepository:
        return ProductRepository(lambda: self.db)

    @functools.cached_property
    def rows(self) -> dict[int, Row]:
        """All seeded product rows by id, read once (Decimal price, datetime updated_at)."""
        rows = self.products.get_many(list(range(1, PRODUCTS + 1)))
        return {int(row["id"]): dict(row) for row in rows}

    def product_key(self, product_id: int) -> str:
        return self.keys.key("product", product_id)

    def bench_keys(self) -> Iterator[list[str]]:
        yield from scan_primaries(self.client, f"{PREFIX}:*", 1_000)

    def cleanup(self) -> int:
        """Remove every key under the bench prefix from the app's Valkey."""
        return sum(unlink(self.client, batch) for batch in self.bench_keys())

    def close(self) -> None:
        if "client" in self.__dict__:
            self.cleanup()
            self.client.close()
        if "db" in self.__dict__:
            self.db.close()


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.seconds = 0.0
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start
