"""Users: write-through CRUD, so a read right after a write is a cache HIT with new data.

Every write commits to the database first (the source of truth); only then is the
cache touched, through the lease protocol of :mod:`lambda_app.caching.write_through`
(the full stored row is cached, never the request's fields). A database error surfaces
as ``Unavailable`` before any cache step runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lambda_app.auth.passwords import hash_password
from lambda_app.caching.invalidation import GroupVersions
from lambda_app.caching.lookup import Lookup
from lambda_app.caching.sessions import SessionStore
from lambda_app.caching.write_through import WriteThrough
from lambda_app.clients.valkey import VALKEY_ERRORS
from lambda_app.data.base import Row
from lambda_app.data.repositories import UserRepository
from lambda_app.data.schema import USER_WRITABLE
from lambda_app.services.errors import NotFound, domain_errors
from lambda_app.services.validation import entity_id, fields

log = logging.getLogger(__name__)


class UserService:
    def __init__(
        self,
        repo: UserRepository,
        entries: WriteThrough,
        groups: GroupVersions,
        *,
        sessions: SessionStore | None = None,
    ) -> None:
        self.repo = repo
        self.entries = entries
        self.groups = groups
        #: Whose cached sessions a user's deletion drops (None: they expire by write-back).
        self.sessions = sessions

    def get(self, user_id: int) -> Lookup:
        """The user (``lookup.value``, None if unknown) and whether the cache answered."""
        user_id = entity_id(user_id)
        with domain_errors():
            return self.entries.get(user_id)

    def create(self, values: Mapping[str, Any], *, password: str | None = None) -> Row:
        """Insert (name, email[, age]) and the password's hash; the stored row (which
        never holds the hash) is cached at once."""
        checked = fields(values, USER_WRITABLE, "user", required=("name", "email"))
        hashed = hash_password(password) if password is not None else None
        with domain_errors():
            row = self.repo.create(**checked, password_hash=hashed)
            self.entries.store(row["id"], row)
        return row

    def update(
        self, user_id: int, changes: Mapping[str, Any], *, password: str | None = None
    ) -> Row:
        """Change the given fields (and the password); the cache then holds the whole
        stored row. A new password or email ends every session opened before it (a
        login racing the change cannot open one with the old credentials either: see
        ``SessionRepository.create``)."""
        user_id = entity_id(user_id)
        checked = fields(changes, USER_WRITABLE, "user changes")
        hashed = hash_password(password) if password is not None else None
        with domain_errors():
            before = self.repo.get(user_id) if "email" in checked else None
            row = self.repo.update(user_id, **checked, password_hash=hashed)
            if row is None:
                raise NotFound("user", user_id)
            self.entries.store(user_id, row)
            moved = before is not None and before["email"] != row["email"]
            if self.sessions is not None and (hashed is not None or moved):
                self.sessions.end_all(user_id)
        return row

    def delete(self, user_id: int) -> None:
        """Delete the user (their sessions go with them in the database), then everything
        cached about them: the row and their sessions now, their group of derived entries
        in O(1)."""
        user_id = entity_id(user_id)
        with domain_errors():
            # Before the delete: its ON DELETE CASCADE removes the session rows.
            sessions = self.sessions.sessions_of(user_id) if self.sessions else []
            if not self.repo.delete(user_id):
                raise NotFound("user", user_id)
        self.entries.invalidate(user_id)
        if self.sessions is not None:
            self.sessions.forget(sessions)
        try:
            self.groups.invalidate("user", user_id)
        except VALKEY_ERRORS as exc:
            log.warning("user %s: group invalidation failed (%s); TTL bounds it", user_id, exc)
