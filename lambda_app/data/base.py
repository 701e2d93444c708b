"""What every repository shares: one transaction per call on the connection it is handed,
and constraint violations turned into domain errors. Its own module so that the
credentials repository and the table repositories build on it without importing each
other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pymysql
import pymysql.cursors

from lambda_app.data.schema import Connection

Row = dict[str, Any]

_DUPLICATE_KEY = 1062
_NO_PARENT_ROW = 1452




class _Repository:
    """Runs statements on the connection `conn()` hands out, one transaction per call."""

    def __init__(self, conn: Callable[[], Connection]) -> None:
        self._conn = conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[pymysql.cursors.DictCursor]:
        """A dict cursor; ends the transaction afterwards so the next read sees new
        commits (a REPEATABLE READ snapshot would otherwise stay frozen)."""
        conn = self._conn()
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cursor:
                yield cursor
        finally:
            if not conn.get_autocommit():
                with contextlib.suppress(pymysql.err.Error, OSError):
                    conn.commit()

    @contextlib.contextmanager
    def _write(self) -> Iterator[pymysql.cursors.DictCursor]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        conn = self._conn()
        conn.begin()
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cursor:
                yield cursor
            conn.commit()
        except BaseException:
            with contextlib.suppress(pymysql.err.Error, OSError):
                conn.rollback()
            raise

    @staticmethod
    def _select(cursor: pymysql.cursors.DictCursor, sql: str, *args: Any) -> Row | None:
        cursor.execute(sql, args)
        return cursor.fetchone()

    def _one(self, sql: str, key: Any) -> Row | None:
        """The row `sql` selects by `key`, in its own read."""
        with self._read() as cursor:
            return self._select(cursor, sql, key)

    def _delete(self, sql: str, key: Any) -> bool:
        """Run one DELETE by `key` in its own transaction; whether a row went."""
        with self._write() as cursor:
            return cursor.execute(sql, (key,)) > 0


def _error_code(exc: pymysql.err.IntegrityError) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


@contextlib.contextmanager
def _integrity_errors(errors: Mapping[int, Callable[[], Exception]]) -> Iterator[None]:
    """A constraint violation with one of these MySQL error codes -> that domain error
    (no driver traceback); any other IntegrityError propagates."""
    try:
        yield
    except pymysql.err.IntegrityError as exc:
        code = _error_code(exc)
        error = None if code is None else errors.get(code)
        if error is None:
            raise
        raise error() from None


def _assignments(columns: Sequence[str]) -> str:
    return ", ".join(f"`{column}` = %s" for column in columns)
