"""Deterministic demo data: a skewed product catalog, users and 30 days of orders.

The same seed gives the same rows (same checksum) on every run and machine, so cache
hit ratios and benchmark figures are comparable. Popularity follows a Zipf-like law:
a few products get most views and sales, which is what makes caching pay off and what
cache warming (top-N by views/sales) relies on.

Re-running REPLACES the data: the tables (products, users, credentials, sessions, orders) are
truncated first, then rows are inserted with explicit ids 1..N. Times are stored
relative to the database's NOW(6) at load time, so "the last 24 hours" always holds
orders (about 1 in 30) whatever the day the seed runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from lambda_app.data.schema import Connection, truncate_tables

SEED = 42
PRODUCTS = 10_000
USERS = 1_000
ORDERS = 50_000
ORDER_DAYS = 30
#: What every seeded user logs in with (``seed --password`` sets another). Demo data only.
DEMO_PASSWORD = "valkey-demo-password"  # noqa: S105
BATCH_ROWS = 2_000

#: Zipf exponents: products by popularity rank, users by how often they buy.
PRODUCT_SKEW = 1.1
USER_SKEW = 0.8
TOP_VIEWS = 1_000_000

_DAY_US = 86_400 * 1_000_000
_ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Ergonomic", "Heavy-duty", "Light",
               "Modern", "Portable", "Premium", "Rugged", "Smart", "Vintage", "Wireless")
_MATERIALS = ("Aluminium", "Bamboo", "Carbon", "Ceramic", "Cotton", "Glass", "Leather",
              "Oak", "Rubber", "Steel", "Wool")
_NOUNS = ("Backpack", "Blender", "Chair", "Desk Lamp", "Headphones", "Kettle", "Keyboard",
          "Mug", "Notebook", "Speaker", "Sunglasses", "Tent", "Umbrella", "Watch")
_FIRST = ("Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jia",
          "Kofi", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomas")
_LAST = ("Almeida", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
         "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov")


@dataclass(frozen=True)
class SeedData:
    """Generated rows; times are microseconds before the load-time anchor."""

    products: list[tuple[int, str, Decimal, str, int, int, int]]
    users: list[tuple[int, str, str, int | None, int]]
    orders: list[tuple[int, int, Decimal, int]]

    def checksum(self) -> str:
        digest = hashlib.sha256()
        for table in (self.products, self.users, self.orders):
            for row in table:
                digest.update(repr(row).encode())
                digest.update(b"\n")
        return digest.hexdigest()


@dataclass(frozen=True)
class SeedReport:
    products: int
    users: int
    orders: int
    checksum: str
    seconds: float
    anchor: datetime


def _cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def _zipf_weights(count: int, skew: float) -> list[float]:
    return [1.0 / rank**skew for rank in range(1, count + 1)]


def generate(
    *,
    seed: int = SEED,
    products: int = PRODUCTS,
    users: int = USERS,
    orders: int = ORDERS,
    days: int = ORDER_DAYS,
) -> SeedData:
    """Build the rows in memory; pure function of its arguments."""
    for name, value in (("products", products), ("users", users), ("orders", orders),
                        ("days", days)):
        if value < 1:
            raise ValueError(f"{name}: expected a positive count, got {value}")
    rng = random.Random(seed)

    by_rank = list(range(1, products + 1))
    rng.shuffle(by_rank)  # popularity is not correlated with id
    views = {pid: int(TOP_VIEWS * weight) + rng.randint(0, 9)
             for pid, weight in zip(by_rank, _zipf_weights(products, PRODUCT_SKEW), strict=True)}
    product_rows = []
    for pid in range(1, products + 1):
        adjective, material, noun = (rng.choice(_ADJECTIVES), rng.choice(_MATERIALS),
                                     rng.choice(_NOUNS))
        name = f"{adjective} {material} {noun} #{pid}"
        description = (f"{adjective.lower()} {noun.lower()} in {material.lower()}; "
                       f"ships in {rng.randint(1, 10)} days.")
        price = _cents(round(10 ** rng.uniform(2, 5)))  # 1.00 .. 1000.00, log-uniform
        sales = int(views[pid] * rng.uniform(0.01, 0.06))
        product_rows.append((pid, name, price, description, views[pid], sales,
                             rng.randrange(days * _DAY_US)))

    user_rows: list[tuple[int, str, str, int | None, int]] = []
    for uid in range(1, users + 1):
        age = None if rng.random() < 0.1 else rng.randint(18, 80)
        user_rows.append((uid, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                          f"user{uid:05d}@example.com", age, rng.randrange(365 * _DAY_US)))

    buyers = list(range(1, users + 1))
    rng.shuffle(buyers)
    cumulative = list(accumulate(_zipf_weights(users, USER_SKEW)))
    chosen = rng.choices(buyers, cum_weights=cumulative, k=orders)
    order_rows = [(oid, uid, _cents(rng.randint(500, 50_000)), rng.randrange(days * _DAY_US))
                  for oid, uid in enumerate(chosen, start=1)]
    return SeedData(product_rows, user_rows, order_rows)


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@contextlib.contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[int], object]]:
    """A tqdm bar on stderr when asked (a terminal); tqdm is a developer's tool, imported
    only then, so the Lambda bundle (which seeds without one) does not carry it."""
    if not enabled:
        yield lambda _done: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc="seed", unit="rows", file=sys.stderr) as bar:
        yield bar.update


def load(
    conn: Connection,
    data: SeedData,
    *,
    progress: bool = True,
    password: str = DEMO_PASSWORD,
) -> SeedReport:
    """Truncate the tables and insert `data` with multi-row INSERTs in one transaction.

    Every seeded user logs in with ``password``: demo data shares one credential (one
    salted hash, computed once; hashing 1,000 passwords would take about a minute).
    """
    from lambda_app.auth.passwords import hash_password

    started = time.monotonic()
    demo_hash = hash_password(password)
    truncate_tables(conn)
    with conn.cursor() as cursor:
        cursor.execute("SELECT NOW(6) AS now")
        row = cursor.fetchone()
        anchor: datetime = row["now"] if isinstance(row, dict) else row[0]

        def at(offset_us: int) -> datetime:
            return anchor - timedelta(microseconds=offset_us)

        inserts = (
            ("INSERT INTO products (id, name, price, description, views, sales, updated_at) "
             "VALUES (%s, %s, %s, %s, %s, %s, %s)",
             [(*row[:6], at(row[6])) for row in data.products]),
            ("INSERT INTO users (id, name, email, age, created_at) VALUES (%s, %s, %s, %s, %s)",
             [(*row[:4], at(row[4])) for row in data.users]),
            ("INSERT INTO orders (id, user_id, amount, created_at) VALUES (%s, %s, %s, %s)",
             [(*row[:3], at(row[3])) for row in data.orders]),
            ("INSERT INTO credentials (user_id, password_hash) VALUES (%s, %s)",
             [(row[0], demo_hash) for row in data.users]),
        )
        total = sum(len(rows) for _, rows in inserts)
        try:
            with _progress(total, enabled=progress) as advance:
                for statement, rows in inserts:
                    for batch in _batches(rows, BATCH_ROWS):
                        cursor.executemany(statement, batch)
                        advance(len(batch))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return SeedReport(len(data.products), len(data.users), len(data.orders), data.checksum(),
                      time.monotonic() - started, anchor)


def seed(
    conn: Connection,
    *,
    seed: int = SEED,
    products: int = PRODUCTS,
    users: int = USERS,
    orders: int = ORDERS,
    progress: bool = True,
    password: str = DEMO_PASSWORD,
) -> SeedReport:
    """Generate and load; replaces whatever the tables held. Seeded users log in with
    ``password``."""
    data = generate(seed=seed, products=products, users=users, orders=orders)
    return load(conn, data, progress=progress, password=password)


def seed_sizes(
    conn: Connection,
    sizes: Mapping[str, int],
    *,
    progress: bool = False,
    password: str = DEMO_PASSWORD,
) -> SeedReport:
    """``seed`` with the sizes a caller chose (``products``, ``users``, ``orders``,
    ``seed``; the rest keep their defaults): the migrator's and the ops CLI's entry."""
    return seed(
        conn,
        seed=sizes.get("seed", SEED),
        products=sizes.get("products", PRODUCTS),
        users=sizes.get("users", USERS),
        orders=sizes.get("orders", ORDERS),
        progress=progress,
        password=password,
    )


def content_checksum(conn: Connection) -> str:
    """A digest of the seeded content that does not depend on when it was loaded."""
    digest = hashlib.sha256()
    queries = (
        "SELECT id, name, price, description, views, sales FROM products ORDER BY id",
        "SELECT id, name, email, age FROM users ORDER BY id",
        "SELECT id, user_id, amount FROM orders ORDER BY id",
    )
    with conn.cursor() as cursor:
        for query in queries:
            cursor.execute(query)
            for row in cursor.fetchall():
                values = tuple(row.values()) if isinstance(row, dict) else tuple(row)
                digest.update(repr(values).encode())
                digest.update(b"\n")
    conn.commit()
    return digest.hexdigest()


def _positive(text: str) -> int:
    problem = argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    try:
        value = int(text)
    except ValueError:
        raise problem from None
    if value < 1:
        raise problem
    return value


def main(argv: list[str] | None = None) -> int:
    """`python -m lambda_app.data.seed`: seed the DB_* database (migrations must be applied)."""
    from lambda_app.clients.errors import ServerUnavailable
    from lambda_app.clients.mysql import connect
    from lambda_app.config_types import ConfigError
    from lambda_app.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m lambda_app.data.seed",
                                     description="Replace products/users/sessions/orders "
                                                 "with deterministic demo data.")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--products", type=_positive, default=PRODUCTS)
    parser.add_argument("--users", type=_positive, default=USERS)
    parser.add_argument("--orders", type=_positive, default=ORDERS)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--password", default=DEMO_PASSWORD,
                        help="the password of every seeded user (at least 12 characters)")
    args = parser.parse_args(argv)
    if len(args.password) < 12:
        parser.error("--password: expected at least 12 characters")
    import pymysql

    try:
        conn = connect(Settings.from_env().db)
        try:
            report = seed(conn, seed=args.seed, products=args.products, users=args.users,
                          orders=args.orders, progress=not args.no_progress,
                          password=args.password)
        finally:
            conn.close()
    except (ConfigError, ServerUnavailable) as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 1
    except pymysql.err.ProgrammingError as exc:
        print(f"seed: {exc.args[-1]} (run the migrations first)", file=sys.stderr)
        return 1
    print(f"seed: {report.products} products, {report.users} users, {report.orders} orders "
          f"in {report.seconds:.1f} s (checksum {report.checksum[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
