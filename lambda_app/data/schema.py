"""Table and column names the data layer may put into SQL text.

Values always travel as parameters; identifiers cannot, so every identifier that reaches
SQL comes from the tuples below (whitelists), never from a caller.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeAlias

import pymysql

Connection: TypeAlias = "pymysql.connections.Connection[Any]"

#: Largest id MySQL's signed INT holds (every id column): larger ids cannot exist.
MAX_ID = 2**31 - 1
#: Largest price ``DECIMAL(10,2)`` holds.
MAX_PRICE = Decimal("99999999.99")
#: The most products one top-N listing returns (``GET /products?top=``).
MAX_TOP = 100
#: The most products one warm-up loads (``POST /cache/warm``, the scheduled warmer).
MAX_WARM = 1_000

#: Child tables first, so deleting in this order never trips a foreign key.
TABLES = ("sessions", "credentials", "orders", "users", "products")

PRODUCT_COLUMNS = ("id", "name", "price", "description", "views", "sales", "updated_at")
PRODUCT_WRITABLE = ("name", "price", "description", "views", "sales")
PRODUCT_RANKINGS = ("views", "sales")

USER_COLUMNS = ("id", "name", "email", "age", "created_at")
USER_WRITABLE = ("name", "email", "age")

SESSION_COLUMNS = ("token", "user_id", "created_at", "last_active")


def truncate_tables(conn: Connection, tables: tuple[str, ...] = TABLES) -> None:
    """Empty `tables` and reset their AUTO_INCREMENT (seed reloads and test isolation).

    TRUNCATE refuses tables referenced by a foreign key unless checks are off for the
    session; they are switched back on even when a TRUNCATE fails.
    """
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown tables: {', '.join(unknown)}")
    with conn.cursor() as cursor:
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        try:
            for table in tables:
                cursor.execute(f"TRUNCATE TABLE `{table}`")
        finally:
            cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
    conn.commit()
