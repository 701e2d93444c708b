"""Password hashes, by user: written beside the user row, read only to log in.

Kept out of ``repositories.UserRepository``'s SELECTs on purpose: what that repository
returns is cached and served; a hash must never be either.
"""

from __future__ import annotations

import pymysql.cursors

from lambda_app.data import rules
from lambda_app.data.base import Row, _Repository
from lambda_app.data.errors import InvalidValue

MAX_HASH = 255


def store_hash(cursor: pymysql.cursors.DictCursor, user_id: int, password_hash: str) -> None:
    """Set ``user_id``'s hash inside the caller's transaction (the user's write)."""
    if not isinstance(password_hash, str) or not 0 < len(password_hash) <= MAX_HASH:
        raise InvalidValue("credentials.password_hash", "<hidden>", "a password hash")
    cursor.execute(
        "INSERT INTO credentials (user_id, password_hash) VALUES (%s, %s) "
        "ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash)",
        (user_id, password_hash),
    )


class CredentialRepository(_Repository):
    def for_email(self, email: str) -> Row | None:
        """``{"user_id", "email", "password_hash"}`` of the user with ``email`` (in any
        spelling with the same normal form), or None (no user, or no password set)."""
        try:
            key = rules.email("users.email", email)
        except InvalidValue:
            return None
        return self._one(
            "SELECT u.id AS user_id, u.email, c.password_hash FROM users u "
            "JOIN credentials c ON c.user_id = u.id WHERE u.email = %s",
            key,
        )

    def set_many(self, rows: list[tuple[int, str]]) -> int:
        """Bulk set (the seed); returns rows written."""
        with self._write() as cursor:
            return int(cursor.executemany(
                "INSERT INTO credentials (user_id, password_hash) VALUES (%s, %s) "
                "ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash)",
                rows,
            ) or 0)


