"""Sessions (scenario 2): create, validate with a sliding 30-minute expiry, delete.

The token is returned once, by ``create``; the cache and the database keep only its
digest (see :mod:`lambda_app.caching.sessions`). Unknown, malformed and expired tokens
all raise ``InvalidSession`` ("invalid session").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambda_app.auth.emails import InvalidEmail, normalise_email
from lambda_app.auth.passwords import verify_password, verify_unknown
from lambda_app.caching.login_limit import LoginLimiter
from lambda_app.caching.sessions import InvalidSessionError, SessionStore, utc_now
from lambda_app.data.credentials import CredentialRepository
from lambda_app.services.errors import (
    InvalidCredentials,
    InvalidSession,
    RateLimited,
    domain_errors,
)
from lambda_app.services.validation import entity_id

if TYPE_CHECKING:
    from lambda_app.caching.rate_limit import Decision


def _normal_or_raw(email: str) -> str:
    """What an unknown email is counted as: its normal form when it has one."""
    try:
        return normalise_email(email)
    except InvalidEmail:
        return email


def _admit(decision: Decision) -> None:
    if not decision.allowed:
        raise RateLimited(decision)


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        credentials: CredentialRepository | None = None,
        login_limiter: LoginLimiter | None = None,
    ) -> None:
        self.store = store
        self.credentials = credentials
        #: Login budgets per address, per address and account, per account.
        self.login_limiter = login_limiter

    def login(self, email: str, password: str, *, source: str) -> dict[str, Any]:
        """A new session for the user whose password this is: ``{"token", "expires_in",
        "user_id", "created_at"}``. A wrong password and an unknown email raise the same
        ``InvalidCredentials`` after the same amount of hashing work; every attempt
        counts for the address, every failure for the account (429 once spent)."""
        limiter = self.login_limiter
        if limiter is not None:
            _admit(limiter.check_address(source))
        if self.credentials is None:
            raise InvalidCredentials
        with domain_errors():
            found = self.credentials.for_email(email)
        attempt = None
        if limiter is not None:
            account = limiter.account(
                None if found is None else int(found["user_id"]), _normal_or_raw(email)
            )
            decision, attempt = limiter.charge(account, source)
            _admit(decision)
        if found is None:
            verify_unknown(password)
            raise InvalidCredentials
        if not verify_password(password, str(found["password_hash"])):
            raise InvalidCredentials
        if limiter is not None and attempt is not None:
            limiter.refund(attempt)
        proof = (str(found["email"]), str(found["password_hash"]))
        try:
            return self.create(int(found["user_id"]), proof=proof)
        except InvalidSession:  # the password or email changed since it was checked
            raise InvalidCredentials from None

    def create(
        self, user_id: int, *, proof: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """``{"token", "expires_in", "user_id", "created_at"}``; NotFound for an unknown
        user; InvalidSession when ``proof`` (email, password hash) no longer holds."""
        user_id = entity_id(user_id, "user_id")
        with domain_errors():
            try:
                token, session = self.store.create(user_id, proof=proof)
            except InvalidSessionError:
                raise InvalidSession from None
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

    def end_all(self, user_id: int) -> int:
        """End every session of ``user_id`` (their password or email changed)."""
        with domain_errors():
            return self.store.end_all(entity_id(user_id, "user_id"))

    def purge(self) -> int:
        """Delete expired session rows (the scheduled job)."""
        with domain_errors():
            return self.store.purge()

    def delete(self, token: str) -> None:
        """End the session; InvalidSession if there was none."""
        with domain_errors():
            existed = self.store.delete(token)
        if not existed:
            raise InvalidSession
