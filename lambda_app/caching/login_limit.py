"""Login throttling: exact sliding logs, counted per account, never switched off by a
cache incident.

A single per-email fixed window gets three things wrong: the window boundary lets twice
the limit through, each spelling of an email is a fresh budget, and one stranger who
knows the address can lock its owner out with a handful of wrong passwords. Here:

* **per address**: every attempt from one source address (credential stuffing across
  many accounts from one place);
* **per address and account**: failed attempts at one account from one address - the
  budget a single stranger can spend, kept *below*
* **per account**: failed attempts at one account from anywhere (a distributed guess),
  so one address cannot exhaust it and lock the owner out.

The account is the user id once the email is looked up, else the normalised email.
Each budget is an exact sliding log (a sorted set of attempt times, as in
:mod:`rate_limit`): no span of one window ever admits more. An attempt is charged to
both account budgets *before* the password is checked (one atomic script, so concurrent
guesses cannot overshoot), and refunded when the password was right: only failures
stay counted.

When Valkey is down, hung or behind an open breaker, the same budgets are kept in this
process (bounded in memory): logins stay limited, per instance, instead of unlimited.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_app.caching.breaker import CircuitBreaker
from lambda_app.caching.rate_limit import SERVER_CLOCK_LUA, Decision
from lambda_app.clients.valkey import VALKEY_ERRORS, CacheClient

log = logging.getLogger(__name__)

# KEYS: logs (one slot). ARGV: window ms, now ms or '', member, one limit per key.
# Admits only if every log has room, then records the member in all of them.
# Returns {allowed, index of the full log or 0, retry_after_ms, remaining}.
CHARGE_LUA = """
local window = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
""" + SERVER_CLOCK_LUA + """
local remaining = -1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local limit = tonumber(ARGV[3 + i])
  if count >= limit then
    local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    local retry = oldest + window - now
    if retry < 1 then retry = 1 end
    return {0, i, retry, 0}
  end
  local left = limit - count - 1
  if remaining < 0 or left < remaining then remaining = left end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return {1, 0, 0, remaining}
"""

# KEYS: logs. ARGV: member. Takes a refunded attempt back out of every log.
REFUND_LUA = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 1
"""

#: How many logs the in-process fallback keeps at most (oldest dropped first).
LOCAL_MAX_LOGS = 10_000


@dataclass(frozen=True)
class Attempt:
    """A charged login attempt: the logs it was counted in, to refund on success."""

    keys: tuple[str, ...]
    member: str
    local: bool


class LocalLogs:
    """The same sliding logs in this process, for when Valkey cannot count."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock

    def charge(
        self, keys: Sequence[str], limits: Sequence[int], window: float
    ) -> tuple[bool, float, int, float]:
        """(allowed, retry_after seconds, remaining, the stamp recorded in every log)."""
        with self._lock:
            now = self._clock()
            logs = [self._log(key, now - window) for key in keys]
            remaining = min(
                limit - len(entries) - 1 for entries, limit in zip(logs, limits, strict=True)
            )
            for entries, limit in zip(logs, limits, strict=True):
                if len(entries) >= limit:
                    return False, max(0.001, entries[0] + window - now), 0, now
            for entries in logs:
                entries.append(now)
            return True, 0.0, remaining, now

    def refund(self, keys: Sequence[str], member: float) -> None:
        with self._lock:
            for key in keys:
                entries = self._logs.get(key)
                if entries is not None and member in entries:
                    entries.remove(member)

    def _log(self, key: str, since: float) -> deque[float]:
        entries = self._logs.pop(key, None) or deque()
        while entries and entries[0] <= since:
            entries.popleft()
        self._logs[key] = entries  # most recently used last
        while len(self._logs) > LOCAL_MAX_LOGS:
            self._logs.popitem(last=False)
        return entries


class LoginLimiter:
    """The three login budgets of the module docstring, over one client."""

    def __init__(
        self,
        client: CacheClient,
        *,
        prefix: str,
        per_address: int,
        per_address_account: int,
        per_account: int,
        window_seconds: float,
        breaker: CircuitBreaker | None = None,
        local: LocalLogs | None = None,
    ) -> None:
        for name, value in (("per_address", per_address),
                            ("per_address_account", per_address_account),
                            ("per_account", per_account)):
            if value < 1:
                raise ValueError(f"login limit: {name} must be >= 1, got {value}")
        if window_seconds <= 0:
            raise ValueError(f"login limit: window must be > 0 seconds, got {window_seconds}")
        self.client = client
        self.prefix = f"{prefix}:login"
        self.per_address = per_address
        self.per_address_account = per_address_account
        self.per_account = per_account
        self.window_ms = max(1, round(window_seconds * 1000))
        self.breaker = breaker
        self.local = local or LocalLogs()
        self._charge = client.register_script(CHARGE_LUA)
        self._refund = client.register_script(REFUND_LUA)

    @staticmethod
    def account(user_id: int | None, email: str) -> str:
        """The account an attempt is at: the user, else the (normalised) email."""
        if user_id is not None:
            return f"user:{user_id}"
        return "email:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def _address(self, address: str) -> str:
        return f"{self.prefix}:ip:{hashlib.sha256(address.encode()).hexdigest()[:32]}"

    def check_address(self, address: str) -> Decision:
        """Count one attempt from ``address`` (every attempt counts, right or wrong)."""
        return self._decide([self._address(address)], [self.per_address])[0]

    def charge(self, account: str, address: str) -> tuple[Decision, Attempt]:
        """Count a failure at ``account`` from ``address`` before the password is checked
        (both logs live in the account's cluster slot); :meth:`refund` it on success."""
        slot = f"{self.prefix}:{{{account}}}"
        keys = [f"{slot}:all", f"{slot}:ip:{hashlib.sha256(address.encode()).hexdigest()[:32]}"]
        return self._decide(keys, [self.per_account, self.per_address_account])

    def refund(self, attempt: Attempt) -> None:
        """The password was right: the attempt no longer counts as a failure."""
        if attempt.local:
            self.local.refund(attempt.keys, float(attempt.member))
            return
        try:
            self._call(self._refund, list(attempt.keys), [attempt.member])
        except VALKEY_ERRORS as exc:  # it expires with the window; never fail a login
            log.warning("login limit refund failed (%s)", exc)

    def _decide(self, keys: list[str], limits: list[int]) -> tuple[Decision, Attempt]:
        member = secrets.token_hex(8)
        try:
            allowed, _, retry_ms, remaining = (
                int(value) for value in self._call(
                    self._charge, keys, [self.window_ms, "", member, *limits]
                )
            )
        except VALKEY_ERRORS as exc:
            log.warning("login limiter counting in-process: Valkey unavailable (%s)", exc)
            return self._decide_locally(keys, limits)
        decision = Decision(bool(allowed), min(limits), max(0, remaining), retry_ms / 1000,
                            retry_ms / 1000 if not allowed else self.window_ms / 1000)
        return decision, Attempt(tuple(keys), member, local=False)

    def _decide_locally(self, keys: list[str], limits: list[int]) -> tuple[Decision, Attempt]:
        allowed, retry, remaining, stamp = self.local.charge(
            keys, limits, self.window_ms / 1000
        )
        decision = Decision(allowed, min(limits), max(0, remaining), retry,
                            retry if not allowed else self.window_ms / 1000, degraded=True)
        return decision, Attempt(tuple(keys), repr(stamp), local=True)

    def _call(
        self, script: Callable[..., object], keys: list[str], args: list[object]
    ) -> list[int]:
        reply: Any
        if self.breaker is None:
            reply = script(keys=keys, args=args)
        else:
            reply = self.breaker.call(script, keys=keys, args=args)
        return [int(value) for value in reply] if isinstance(reply, list) else [int(reply)]
