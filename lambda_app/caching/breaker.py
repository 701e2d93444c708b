"""Circuit breaker for the cache: an outage costs one timeout per cool-down, not per request.

Without it, every read during a Valkey outage waits for the socket timeout (0.5 s by
default, times the client's retries) before falling back to the database, so an outage
turns into a latency incident for every request. With it:

* **closed**: calls go to Valkey; ``failure_threshold`` consecutive failures open it;
* **open**: calls skip Valkey and go straight to the database, until ``cooldown_s``
  has passed;
* **half-open**: exactly one trial call goes to Valkey; success closes the breaker,
  failure opens it for another cool-down. Other callers keep skipping meanwhile.

The clock is injected so the state machine is tested without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import valkey

from lambda_app.caching import budget
from lambda_app.caching.serialization import SerializationError
from lambda_app.clients.valkey import VALKEY_ERRORS

log = logging.getLogger(__name__)

#: What a call raises when the server did answer: an error reply, a value that does not
#: decode. Everything else a cache call raises is the cache failing.
ANSWERED: tuple[type[Exception], ...] = (valkey.exceptions.ResponseError, SerializationError)

if TYPE_CHECKING:
    from lambda_app.settings import CacheSettings


P = ParamSpec("P")
R = TypeVar("R")


class BreakerOpen(valkey.exceptions.ConnectionError):
    """Raised instead of calling Valkey while the breaker is open. A connection error,
    so every ``except VALKEY_ERRORS`` fallback treats it as the outage it stands for."""


class CacheCallFailed(valkey.exceptions.ConnectionError):
    """A cache call raised something no Valkey error class names (a ``RecursionError``
    from a client reconnecting into a hung server, say). Counted as a failure, and a
    connection error to the caller, so it takes the same fallback as any outage instead
    of escaping as a 500."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker with a cool-down and a single half-open trial."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {cooldown_s}")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.times_opened = 0

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> CircuitBreaker:
        """``CACHE_BREAKER_FAILURES`` and ``CACHE_BREAKER_COOLDOWN``."""
        return cls(settings.breaker_failures, settings.breaker_cooldown)

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """Whether this call may use the cache (closed, or the one half-open trial)."""
        if self._state is BreakerState.CLOSED:  # lock-free fast path
            return True
        with self._lock:
            state = self.state  # re-read under the lock: another thread may have closed it
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.OPEN:
                if self._clock() - self._opened_at < self.cooldown_s:
                    return False
                self._state = BreakerState.HALF_OPEN
                self._trial_in_flight = False
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        if self._state is BreakerState.CLOSED and self._failures == 0:  # fast path
            return
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.OPEN:
                return  # a call that started before the breaker opened; keep the cool-down
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self.times_opened += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                self._trial_in_flight = False

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` under the breaker: skipped (``BreakerOpen``) while open
        or once this request's cache budget (:mod:`budget`) is spent. An error reply or
        an undecodable value counts as success (the server answered); every other
        exception as a failure, raised as a connection error (:class:`CacheCallFailed`
        when it was none)."""
        if not self.allow():
            raise BreakerOpen("cache circuit breaker is open; Valkey not called")
        if budget.exhausted():
            self._release_trial()
            raise BreakerOpen("this request's cache budget is spent; Valkey not called")
        try:
            result = fn(*args, **kwargs)
        except ANSWERED:
            # The server answered (an error reply, or a value that does not decode): it
            # is up. Not recording that would leave a half-open trial in flight, and the
            # breaker refusing every call until a restart.
            self.record_success()
            raise
        except VALKEY_ERRORS:
            self._failed()
            raise
        except Exception as exc:
            self._failed()
            log.warning("cache call failed with %s: %s", type(exc).__name__, exc)
            raise CacheCallFailed(f"cache call failed: {type(exc).__name__}") from exc
        except BaseException:
            self._failed()
            raise
        self.record_success()
        return result

    def _failed(self) -> None:
        self.record_failure()
        budget.charge_failure()

    def _release_trial(self) -> None:
        """A half-open trial this request may not spend: let the next request take it."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._trial_in_flight = False

    def reset(self) -> None:
        """Back to closed (tests, or an operator after fixing the cache)."""
        self.record_success()

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self._state.value,
            "consecutive_failures": self._failures,
            "times_opened": self.times_opened,
            "failure_threshold": self.failure_threshold,
            "cooldown_s": self.cooldown_s,
        }
