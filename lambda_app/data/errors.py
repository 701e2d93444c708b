"""Domain errors raised by the data layer.

Handlers map these to HTTP responses in one place; callers never need to know PyMySQL's
error numbers (1062 duplicate key, 1452 missing parent row).
"""

from __future__ import annotations


class DataLayerError(Exception):
    """Base class for errors the repositories and migrations raise on purpose."""


class NotFound(DataLayerError, LookupError):
    """A row the operation depends on does not exist."""

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found")


class DuplicateEmail(DataLayerError):
    """Another user already has this email (the unique index is case-insensitive)."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"a user with email {email!r} already exists")


class DuplicateToken(DataLayerError):
    """A session with this token already exists (the token itself is not echoed)."""

    def __init__(self) -> None:
        super().__init__("a session with this token already exists")


class InvalidValue(DataLayerError, ValueError):
    """A value or column name the data layer refuses; names the field and what it expects."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}: expected {expected}, got {value!r}")


class MigrationError(DataLayerError):
    """Migrations could not run (no database selected, lock not acquired, ...)."""
