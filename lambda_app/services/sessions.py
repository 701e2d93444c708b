"""Sessions (scenario 2): create, validate with a sliding 30-minute expiry, delete.

The token is returned once, by ``create``; the cache and the database keep only its
digest (see :mod:`lambda_app.caching.sessions`). Unknown, malformed and expired tokens
all raise ``InvalidSession`` ("invalid session").
"""

from __future__ import annotations

import hashlib
from typing import Any

from lambda_app.auth.passwords import verify_password, verify_unknown
from lambda_app.caching.rate_limit import RateLimiter
from lambda_app.caching.sessions import InvalidSessionError, SessionStore, utc_now
from lambda_app.data.credentials import CredentialRepository
from lambda_app.services.errors import (
    InvalidCredentials,
    InvalidSession,
    RateLimited,
    domain_errors,
)
from lambda_app.services.validation import entity_id


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        credentials: CredentialRepository | None = None,
        login_limiter: RateLimiter | None = None,
    ) -> None:
        self.store = store
        self.credentials = credentials
        #: Counts login attempts per source address and per email (credential stuffing).
        self.login_limiter = login_limiter

    def login(self, email: str, password: str, *, source: str) -> dict[str, Any]:
        """A new session for the user whose password this is: ``{"token", "expires_in",
        "user_id", "created_at"}``. A wrong password and an unknown email raise the same
        ``InvalidSession`` after the same amount of hashing work."""
        self._count_attempt(email, source)
        if self.credentials is None:
            raise InvalidCredentials
        with domain_errors():
            found = self.credentials.for_email(email)
        if found is None:
            verify_unknown(password)
            raise InvalidCredentials
        if not verify_password(password, str(found["password_hash"])):
            raise InvalidCredentials
        return self.create(int(found["user_id"]))

    def _count_attempt(self, email: str, source: str) -> None:
        if self.login_limiter is None:
            return
        digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        for caller in (f"ip:{source}", f"email:{digest}"):
            decision = self.login_limiter.check(caller)
            if not decision.allowed:
                raise RateLimited(decision)

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
