"""Sessions (scenario 2): create, validate with a sliding 30-minute expiry, delete.

The token is returned once, by ``create``; the cache and the database keep only its
digest (see :mod:`lambda_app.caching.sessions`). Unknown, malformed and expired tokens
all raise ``InvalidSession`` ("invalid session").
"""

from __future__ import annotations

from typing import Any

from lambda_app.caching.sessions import InvalidSessionError, SessionStore, utc_now
from lambda_app.services.errors import InvalidSession, domain_errors
from lambda_app.services.validation import entity_id


class SessionService:
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def create(self, user_id: int) -> dict[str, Any]:
        """``{"token", "expires_in", "user_id", "created_at"}``; NotFound for an unknown user."""
        user_id = entity_id(user_id, "user_id")
        with domain_errors():
            token, session = self.store.create(user_id)
        return {
            "token": token,
            "expires_in": session.expires_in,
            "user_id": session.user_id,
            "created_at": session.created_at,
        }

    def validate(self, token: str) -> dict[str, Any]:
        """``{"token", "user_id", "expires_in", "created_at", "last_active", "hit"}``;
        slides the expiry to ``expires_in`` seconds from now."""
        with domain_errors():
            try:
                session = self.store.validate(token)
            except InvalidSessionError:
                raise InvalidSession from None
        return {
            "token": token,
            "user_id": session.user_id,
            "expires_in": session.expires_in,
            "created_at": session.created_at,
            "last_active": utc_now(),
            "hit": session.hit,
        }

    def delete(self, token: str) -> None:
        """End the session; InvalidSession if there was none."""
        with domain_errors():
            existed = self.store.delete(token)
        if not existed:
            raise InvalidSession
