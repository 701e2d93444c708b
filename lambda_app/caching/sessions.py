"""Session store: write-through, sliding 30-minute expiry.

What the usual ``validate_session`` (read the key, refresh its TTL, fall back to the
table) gets wrong, and what happens here instead:

* it takes the caller's token as the key, so whoever can ``SCAN`` the cache (or read the
  sessions table) holds live credentials. Tokens here are random 256-bit values
  (``secrets.token_urlsafe(32)``) given to the client once; the cache and the database
  only ever see their SHA-256 digest;
* it refreshes the TTL with a second round trip (``GET`` then ``EXPIRE``); here the hit
  is one script that reads the value and slides its TTL (:mod:`write_through`);
* it never records activity, so the database cannot tell a live session from a dead
  one once the cache entry is gone. Writing ``last_active`` on every request would turn
  every read into a database write; here it is written back *at most once a minute* per
  session: the same round trip sets a marker key ``NX PX 60000`` and only the request
  that set it writes to the database;
* it caches whatever row it finds, even one whose 30 minutes are long over; here a row
  idle for longer than the timeout is invalid (and deleted), and so is one older than
  the absolute lifetime (12 h by default, from ``created_at``), however active: a
  stolen token does not live for ever by being used. Expired rows are purged by the
  scheduled job (:meth:`SessionStore.purge`);
* it caches "not found" for an unknown token, so random tokens fill the cache; here an
  unknown token leaves nothing behind (no negative entry, its lease given back).

Deleting a user, or changing their password or email, drops the cached entries of all
their sessions at once (:meth:`SessionStore.forget`, :meth:`SessionStore.end_all`); any
other session deleted in the database (logout elsewhere, a login racing the user's
deletion) is noticed at the next write-back, so within a minute, even while its cache
entry is being used.

Unknown, malformed and expired tokens all raise :class:`InvalidSessionError` with the
same message, "invalid session", so a caller learns nothing about which it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.invalidation import Announcer
from lambda_app.caching.keys import KeyBuilder
from lambda_app.caching.metrics import CacheMetrics
from lambda_app.caching.ttl import TtlPolicy
from lambda_app.caching.write_through import DB_FAILURES, WriteThrough
from lambda_app.clients.valkey import ValkeyClient

log = logging.getLogger(__name__)

Row = dict[str, Any]

TOKEN_BYTES = 32  # 256 bits
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 base64url characters
DEFAULT_TTL_SECONDS = 1_800
DEFAULT_TOUCH_INTERVAL_SECONDS = 60
DEFAULT_MAX_LIFETIME_SECONDS = 43_200  # 12 h


class SessionRepo(Protocol):
    """What the store needs from the sessions table (``SessionRepository``)."""

    def create(
        self, token: str, user_id: int, *, proof: tuple[str, str] | None = None
    ) -> Row | None: ...
    def get(self, token: str) -> Row | None: ...
    def touch(self, token: str, last_active: dt.datetime) -> bool: ...
    def delete(self, token: str) -> bool: ...
    def tokens_for_user(self, user_id: int) -> list[str]: ...
    def end_for_user(self, user_id: int) -> list[str]: ...
    def purge(
        self, *, idle_before: dt.datetime, created_before: dt.datetime, limit: int
    ) -> int: ...


class InvalidSessionError(LookupError):
    """The token is unknown, malformed or expired (deliberately not told apart)."""

    def __init__(self) -> None:
        super().__init__("invalid session")


@dataclass(frozen=True)
class Session:
    """A valid session; ``expires_in`` is the idle timeout from now, in seconds."""

    user_id: int
    created_at: dt.datetime
    expires_in: int
    hit: bool


def utc_now() -> dt.datetime:
    """Naive UTC, as TIMESTAMP columns are read on a UTC connection."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    """What the cache and the database store instead of the token (64 hex characters)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidSessionError
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Create, validate (sliding expiry) and delete sessions; the database is the truth."""

    def __init__(
        self,
        client: ValkeyClient,
        repo: SessionRepo,
        *,
        keys: KeyBuilder | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        touch_interval_seconds: int = DEFAULT_TOUCH_INTERVAL_SECONDS,
        max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME_SECONDS,
        negative_ttl_seconds: float = 60.0,
        metrics: CacheMetrics | None = None,
        breaker: CircuitBreaker | None = None,
        announce: Announcer | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError(f"session ttl_seconds must be >= 1, got {ttl_seconds}")
        if not 1 <= touch_interval_seconds <= ttl_seconds:
            raise ValueError(
                "touch_interval_seconds must be from 1 to the session TTL, "
                f"got {touch_interval_seconds}"
            )
        if max_lifetime_seconds < ttl_seconds:
            raise ValueError(
                "max_lifetime_seconds must be at least the idle timeout "
                f"({ttl_seconds}), got {max_lifetime_seconds}"
            )
        self.repo = repo
        self.ttl_seconds = ttl_seconds
        self.max_lifetime = dt.timedelta(seconds=max_lifetime_seconds)
        self.touch_interval = dt.timedelta(seconds=touch_interval_seconds)
        self._clock = clock
        # Exact TTL (no jitter): the idle timeout is a security rule, not a load pattern.
        policy = TtlPolicy(
            ttls={"session": ttl_seconds},
            jitter=0.0,
            negative_ttl=negative_ttl_seconds,
            sliding=frozenset({"session"}),
        )
        self.cache = WriteThrough(
            client,
            resource="session",
            data_class="session",
            load=self._load,
            keys=keys,
            ttl=policy,
            metrics=metrics,
            breaker=breaker,
            announce=announce,
            negative=False,
        )

    def _idle_cutoff(self, now: dt.datetime) -> dt.datetime:
        # last_active lags real activity by up to one touch interval: allow for it.
        return now - dt.timedelta(seconds=self.ttl_seconds) - self.touch_interval

    def _too_old(self, row: Row, now: dt.datetime) -> bool:
        return bool(row["created_at"] <= now - self.max_lifetime)

    def _expired(self, row: Row, now: dt.datetime) -> bool:
        return row["last_active"] < self._idle_cutoff(now) or self._too_old(row, now)

    def _load(self, key: str) -> Row | None:
        """The database row, or None if it does not exist or has expired (then deleted)."""
        row = self.repo.get(key)
        if row is not None and self._expired(row, self._clock()):
            self.repo.delete(key)
            return None
        return row

    def _session(self, row: Row, now: dt.datetime, *, hit: bool) -> Session:
        left = (row["created_at"] + self.max_lifetime - now).total_seconds()
        expires_in = max(1, min(self.ttl_seconds, int(left)))
        return Session(int(row["user_id"]), row["created_at"], expires_in, hit)

    def create(
        self, user_id: int, *, proof: tuple[str, str] | None = None
    ) -> tuple[str, Session]:
        """A new session for ``user_id``: the token (shown once) and the session. With
        ``proof`` (the email and password hash just verified), InvalidSessionError when
        either changed meanwhile."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        key = digest(token)
        row = self.repo.create(key, user_id, proof=proof)
        if row is None:
            raise InvalidSessionError
        self.cache.store(key, row)
        return token, self._session(row, self._clock(), hit=False)

    def validate(self, token: str) -> Session:
        """The session if the token is valid; slides its expiry. Else InvalidSessionError."""
        key = digest(token)
        marker = self.cache.keys.companion(self.cache.key(key), "touch")
        lookup, marked = self.cache.read(
            key, marker=marker, marker_ms=int(self.touch_interval.total_seconds() * 1000)
        )
        if not lookup.found:
            raise InvalidSessionError
        row: Row = lookup.value
        now = self._clock()
        # A cached row's last_active is stale (the entry's own TTL is the idle timeout);
        # its created_at is not: the absolute lifetime is checked on every hit.
        if lookup.hit and self._too_old(row, now):
            self.repo.delete(key)
            self.cache.invalidate(key)
            raise InvalidSessionError
        # On a hit, the marker decides (once per interval across all instances); on a
        # miss the row is fresh from the database and says when it was last written.
        due = marked if lookup.hit else now - row["last_active"] >= self.touch_interval
        if due and not self._write_back(key, now):
            self.cache.invalidate(key)  # deleted in the database meanwhile
            raise InvalidSessionError
        return self._session(row, now, hit=lookup.hit)

    def _write_back(self, key: str, now: dt.datetime) -> bool:
        """Record activity; False only when the row is gone. A database that does not
        answer does not fail the request: the next write-back is a minute away."""
        try:
            return self.repo.touch(key, now)
        except DB_FAILURES as exc:
            log.warning("session last_active write-back failed: %s", exc)
            return True

    def sessions_of(self, user_id: int) -> list[str]:
        """The stored keys (token digests) of every session of ``user_id``. Read them
        before deleting the user: the cascade removes the rows, not the cache entries."""
        return self.repo.tokens_for_user(user_id)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop cached sessions whose rows are gone (their user was deleted) at once,
        fencing off fills in flight; never raises on a cache failure (retried later)."""
        self.cache.invalidate_many(keys)

    def end_all(self, user_id: int) -> int:
        """End every session of ``user_id`` (a password or email change): the rows, then
        their cache entries at once. Returns how many there were."""
        keys = self.repo.end_for_user(user_id)
        self.cache.invalidate_many(keys)
        return len(keys)

    def purge(self, *, limit: int = 10_000) -> int:
        """Delete up to ``limit`` expired session rows (idle too long, or too old); their
        cache entries have expired already. The scheduled warmer calls it."""
        now = self._clock()
        return self.repo.purge(
            idle_before=self._idle_cutoff(now),
            created_before=now - self.max_lifetime,
            limit=limit,
        )

    def delete(self, token: str) -> bool:
        """Log out: the database row, then the cache entry. False if it did not exist."""
        try:
            key = digest(token)
        except InvalidSessionError:
            return False
        existed = self.repo.delete(key)
        self.cache.invalidate(key)
        return existed
