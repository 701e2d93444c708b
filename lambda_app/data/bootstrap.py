"""A database ready to serve: the migrations applied, and the demo data in an empty one.

What ``make demo`` and ``make serve`` do before the first request, so a fresh clone
answers every route instead of ``Table 'app.products' doesn't exist``. A database that
already holds products is never re-seeded: the seed replaces data.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_app.data.migrations import migrate
from lambda_app.data.schema import Connection
from lambda_app.data.seed import SeedReport, seed


@dataclass(frozen=True)
class Readiness:
    migrations_applied: list[int]
    products: int
    seeded: SeedReport | None

    def describe(self) -> str:
        applied = self.migrations_applied
        parts = [f"migrations {'applied ' + str(applied) if applied else 'up to date'}"]
        if self.seeded is not None:
            report = self.seeded
            parts.append(f"seeded {report.products} products, {report.users} users, "
                         f"{report.orders} orders in {report.seconds:.1f} s")
        else:
            parts.append(f"{self.products} products already there: seed skipped")
        return "; ".join(parts)


def ensure_ready(conn: Connection, *, progress: bool = False) -> Readiness:
    """Migrate (idempotent, serialised by the migrations' own lock); seed if empty."""
    applied = migrate(conn)
    with conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM products")
        row = cursor.fetchone()
    conn.commit()
    count = int(row["n"]) if row else 0
    if count:
        return Readiness(applied, count, None)
    report = seed(conn, progress=progress)
    return Readiness(applied, report.products, report)
