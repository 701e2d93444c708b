"""SQL access for the caching patterns: one repository per table, rows as dicts.

Every write commits and returns what the database holds afterwards (read back inside the
same transaction), so a write-through cache stores exactly the stored row - defaults,
rounding and timestamps included - never the caller's input. Rows keep PyMySQL's types
(Decimal, datetime); serialization is the cache layer's job. Values are always query
parameters; column names come only from the whitelists in `schema`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from lambda_app.data import rules, schema
from lambda_app.data.base import (
    _DUPLICATE_KEY,
    _NO_PARENT_ROW,
    Row,
    _assignments,
    _integrity_errors,
    _Repository,
)
from lambda_app.data.credentials import store_hash
from lambda_app.data.errors import DuplicateEmail, DuplicateToken, InvalidValue, NotFound

# --------------------------------------------------------------------------- products

_PRODUCT_SELECT = f"SELECT {', '.join(schema.PRODUCT_COLUMNS)} FROM products"


class ProductRepository(_Repository):
    """The product catalog (cache-aside, write-through, warming by top-N)."""

    def get(self, product_id: int) -> Row | None:
        key = rules.entity_id("products.id", product_id)
        return self._one(f"{_PRODUCT_SELECT} WHERE id = %s", key)

    def columns(self, product_id: int, names: Sequence[str]) -> Row | None:
        """Only some columns of a product (a volatile field reloaded alone)."""
        unknown = sorted(set(names) - set(schema.PRODUCT_COLUMNS))
        if unknown or not names:
            raise ValueError(f"unknown product columns {unknown}: expected some of "
                             + ", ".join(schema.PRODUCT_COLUMNS))
        sql = f"SELECT {', '.join(names)} FROM products WHERE id = %s"
        return self._one(sql, rules.entity_id("products.id", product_id))

    def get_many(self, ids: Sequence[int]) -> list[Row]:
        """Rows for `ids` in the order asked (first occurrence), missing ids skipped."""
        wanted = list(dict.fromkeys(rules.entity_id("products.id", value) for value in ids))
        if not wanted:
            return []
        found: dict[int, Row] = {}
        with self._read() as cursor:
            for start in range(0, len(wanted), 1_000):
                chunk = wanted[start : start + 1_000]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"{_PRODUCT_SELECT} WHERE id IN ({marks})", chunk)
                found.update({row["id"]: row for row in cursor.fetchall()})
        return [found[value] for value in wanted if value in found]

    def top(self, n: int, by: Literal["views", "sales"] = "views") -> list[Row]:
        """The `n` most viewed (or sold) products; ties broken by id for stable output."""
        return self._ranked(_PRODUCT_SELECT, n, by)

    def top_ids(self, n: int, by: Literal["views", "sales"] = "views") -> list[int]:
        """The ids of `top(n, by)`, in its order: read from the ranking's index alone
        (InnoDB secondary indexes carry the primary key), no row is fetched. For warming,
        which must read the rows only after it holds their leases."""
        return [row["id"] for row in self._ranked("SELECT id FROM products", n, by)]

    def _ranked(self, select: str, n: int, by: str) -> list[Row]:
        if by not in schema.PRODUCT_RANKINGS:
            raise InvalidValue("by", by, "one of " + ", ".join(schema.PRODUCT_RANKINGS))
        count = rules.count("n", n, maximum=max(schema.MAX_TOP, schema.MAX_WARM))
        if count == 0:
            return []
        with self._read() as cursor:
            cursor.execute(f"{select} ORDER BY `{by}` DESC, id DESC LIMIT %s", (count,))
            return list(cursor.fetchall())

    def create(
        self,
        *,
        name: str,
        price: Decimal,
        description: str = "",
        views: int = 0,
        sales: int = 0,
    ) -> Row:
        values = rules.checked("products", rules.PRODUCT_RULES, {
            "name": name, "price": price, "description": description,
            "views": views, "sales": sales,
        })
        columns = ", ".join(f"`{column}`" for column in values)
        marks = ", ".join(["%s"] * len(values))
        with self._write() as cursor:
            cursor.execute(f"INSERT INTO products ({columns}) VALUES ({marks})",
                           tuple(values.values()))
            row = self._select(cursor, f"{_PRODUCT_SELECT} WHERE id = %s", cursor.lastrowid)
        assert row is not None  # read back in the inserting transaction
        return row

    def update(self, product_id: int, **fields: Any) -> Row | None:
        """Change whitelisted columns; updated_at moves on every call (a version stamp)."""
        key = rules.entity_id("products.id", product_id)
        values = rules.checked("products", rules.PRODUCT_RULES, fields)
        assignments = _assignments(list(values))
        sql = "UPDATE products SET " + (f"{assignments}, " if values else "")
        with self._write() as cursor:
            cursor.execute(f"{sql}updated_at = CURRENT_TIMESTAMP(6) WHERE id = %s",
                           (*values.values(), key))
            return self._select(cursor, f"{_PRODUCT_SELECT} WHERE id = %s", key)

    def delete(self, product_id: int) -> bool:
        key = rules.entity_id("products.id", product_id)
        return self._delete("DELETE FROM products WHERE id = %s", key)


# --------------------------------------------------------------------------- users

_USER_SELECT = f"SELECT {', '.join(schema.USER_COLUMNS)} FROM users"


class UserRepository(_Repository):
    """User profiles; emails are unique (case-insensitively)."""

    def get(self, user_id: int) -> Row | None:
        return self._one(f"{_USER_SELECT} WHERE id = %s", rules.entity_id("users.id", user_id))

    def create(
        self, *, name: str, email: str, age: int | None = None, password_hash: str | None = None
    ) -> Row:
        """Insert the user and, in the same transaction, their password hash."""
        given = {"name": name, "email": email, "age": age}
        values = rules.checked("users", rules.USER_RULES, given)
        with _unique_email(values), self._write() as cursor:
            cursor.execute("INSERT INTO users (name, email, age) VALUES (%s, %s, %s)",
                           tuple(values.values()))
            user_id = cursor.lastrowid
            if password_hash is not None:
                store_hash(cursor, user_id, password_hash)
            row = self._select(cursor, f"{_USER_SELECT} WHERE id = %s", user_id)
        assert row is not None
        return row

    def update(
        self, user_id: int, *, password_hash: str | None = None, **fields: Any
    ) -> Row | None:
        """Change the given columns (and the password, when a hash is given) at once."""
        key = rules.entity_id("users.id", user_id)
        values = rules.checked("users", rules.USER_RULES, fields)
        with _unique_email(values), self._write() as cursor:
            if values:
                cursor.execute(f"UPDATE users SET {_assignments(list(values))} WHERE id = %s",
                               (*values.values(), key))
            row = self._select(cursor, f"{_USER_SELECT} WHERE id = %s", key)
            if row is not None and password_hash is not None:
                store_hash(cursor, key, password_hash)
            return row

    def delete(self, user_id: int) -> bool:
        """Deleting a user deletes their sessions (ON DELETE CASCADE)."""
        return self._delete("DELETE FROM users WHERE id = %s", rules.entity_id("users.id", user_id))


def _unique_email(values: Mapping[str, Any]) -> contextlib.AbstractContextManager[None]:
    """A duplicate key on users can only be the email (the id is generated)."""
    return _integrity_errors({_DUPLICATE_KEY: lambda: DuplicateEmail(values["email"])})


# --------------------------------------------------------------------------- sessions

_SESSION_SELECT = f"SELECT {', '.join(schema.SESSION_COLUMNS)} FROM sessions"


class SessionRepository(_Repository):
    """Login sessions, the durable copy behind the write-through session cache."""

    def create(
        self, token: str, user_id: int, *, proof: tuple[str, str] | None = None
    ) -> Row | None:
        """Insert a session. With ``proof`` (the email and password hash a login just
        verified), only while the user still has both: a password or email change that
        commits between the check and this insert leaves no session (None)."""
        key = rules.token(token)
        owner = rules.entity_id("sessions.user_id", user_id)
        errors = {_NO_PARENT_ROW: lambda: NotFound("user", owner), _DUPLICATE_KEY: DuplicateToken}
        with _integrity_errors(errors), self._write() as cursor:
            if proof is None:
                cursor.execute("INSERT INTO sessions (token, user_id) VALUES (%s, %s)",
                               (key, owner))
            elif not cursor.execute(
                "INSERT INTO sessions (token, user_id) SELECT %s, u.id FROM users u "
                "JOIN credentials c ON c.user_id = u.id "
                "WHERE u.id = %s AND u.email = %s AND c.password_hash = %s",
                (key, owner, *proof),
            ):
                return None
            row = self._select(cursor, f"{_SESSION_SELECT} WHERE token = %s", key)
        assert row is not None
        return row

    def end_for_user(self, user_id: int) -> list[str]:
        """Delete every session of ``user_id``; the tokens (as stored) that went."""
        owner = rules.entity_id("sessions.user_id", user_id)
        with self._write() as cursor:
            cursor.execute("SELECT token FROM sessions WHERE user_id = %s FOR UPDATE", (owner,))
            tokens = [row["token"] for row in cursor.fetchall()]
            cursor.execute("DELETE FROM sessions WHERE user_id = %s", (owner,))
        return tokens

    def purge(self, *, idle_before: datetime, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` sessions idle since, or opened before, the given times."""
        count = rules.count("limit", limit, maximum=100_000)
        for value in (idle_before, created_before):
            if not isinstance(value, datetime):
                raise InvalidValue("sessions purge cut-off", value, "a datetime")
        with self._write() as cursor:
            return int(cursor.execute(
                "DELETE FROM sessions WHERE last_active < %s OR created_at < %s LIMIT %s",
                (idle_before, created_before, count),
            ))

    def get(self, token: str) -> Row | None:
        return self._one(f"{_SESSION_SELECT} WHERE token = %s", rules.token(token))

    def tokens_for_user(self, user_id: int) -> list[str]:
        """The tokens (as stored) of every session of `user_id`: read them before deleting
        the user, whose ON DELETE CASCADE removes the rows but not their cache entries."""
        with self._read() as cursor:
            cursor.execute("SELECT token FROM sessions WHERE user_id = %s ORDER BY token",
                           (rules.entity_id("sessions.user_id", user_id),))
            return [row["token"] for row in cursor.fetchall()]

    def touch(self, token: str, last_active: datetime) -> bool:
        """Record activity; False when the session does not exist."""
        key = rules.token(token)
        if not isinstance(last_active, datetime):
            raise InvalidValue("sessions.last_active", last_active, "a datetime")
        with self._write() as cursor:
            cursor.execute("UPDATE sessions SET last_active = %s WHERE token = %s",
                           (last_active, key))
            return self._select(cursor, "SELECT 1 AS found FROM sessions WHERE token = %s",
                                key) is not None

    def delete(self, token: str) -> bool:
        return self._delete("DELETE FROM sessions WHERE token = %s", rules.token(token))


# --------------------------------------------------------------------------- stats


class StatsRepository(_Repository):
    """The expensive aggregate the query-cache pattern caches (the dashboard)."""

    def dashboard(self, hours: int = 24) -> Row:
        """Orders of the last `hours`: distinct buyers, revenue, average order, count."""
        window = rules.count("hours", hours, maximum=24 * 366)
        if window == 0:
            raise InvalidValue("hours", hours, "a whole number from 1 to 8784")
        with self._read() as cursor:
            row = self._select(
                cursor,
                "SELECT COUNT(DISTINCT user_id) AS total_users, "
                "COALESCE(SUM(amount), 0) AS total_sales, "
                "ROUND(AVG(amount), 2) AS avg_order, COUNT(*) AS orders "
                "FROM orders WHERE created_at >= NOW(6) - INTERVAL %s HOUR",
                window,
            )
        assert row is not None  # an aggregate always returns one row
        return {
            "total_users": int(row["total_users"]),
            "total_sales": Decimal(row["total_sales"]).quantize(Decimal("0.01")),
            "avg_order": None if row["avg_order"] is None else Decimal(row["avg_order"]),
            "orders": int(row["orders"]),
            "window_hours": window,
        }
