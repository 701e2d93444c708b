"""Rate limiting in one atomic round trip: exact sliding log, sliding-window counter,
fixed window.

``INCR`` then ``EXPIRE`` from the client is two round trips and not atomic: a crash
between them leaves a counter without a TTL, and the caller is blocked for good. A fixed
window also lets twice the limit through around a window boundary (a full window's worth
just before it, another just after).

Here each check is one Lua script over ONE hash key per caller (fields ``w`` = window
number, ``c`` = count in it, ``p`` = count in the previous window), so:

* counting and expiry happen together, and the key always has a TTL;
* the window number is computed inside the script, so the key name never depends on
  the time and a cluster routes every check of a caller to the same slot;
* time comes from the server (``TIME``) so app instances with skewed clocks agree, or
  from the caller's ``now`` argument, which makes tests deterministic.

``log`` (the default) is exact: a sorted set of the caller's admitted requests in the
last window (score = time), so no span of one window ever admits more than the limit,
for a burst or a steady client alike; a refused request is not recorded. It holds at
most ``limit`` members per caller (a compact listpack up to 128), which is the memory
it trades for exactness.

The sliding-window counter (``sliding``) estimates the count over the last full window
as ``previous * (1 - elapsed/window) + current``. It assumes the previous window's
requests were spread evenly, so it is an estimate: a steady client at 3x the rate gets
about 1.5x the limit through in some window-length spans (``make bench`` measures it).
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass
from typing import Any, get_args

from valkey.exceptions import NoScriptError

from lambda_app.caching.breaker import BreakerOpen, CircuitBreaker
from lambda_app.clients.valkey import VALKEY_ERRORS, CacheClient
from lambda_app.settings import RateLimitAlgorithm

log = logging.getLogger(__name__)

Algorithm = RateLimitAlgorithm
ALGORITHMS: tuple[Algorithm, ...] = get_args(RateLimitAlgorithm)

MAX_CALLER_LENGTH = 200

#: ``now`` in ms: the caller's (tests), else the server's TIME, so that instances with
#: skewed clocks agree. Shared by the rate-limit and login-limit scripts.
SERVER_CLOCK_LUA = """
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# Shared by every script: the limit, the window and the clock.
_NOW = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
""" + SERVER_CLOCK_LUA

# The window scripts' prologue: the window number and the counts seen so far.
_CLOCK = _NOW + """
local w = math.floor(now / window)
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local seen_w = tonumber(state[1])
if seen_w ~= nil and seen_w > w then
  -- a caller whose clock runs behind: count it in the newest window seen
  w = seen_w
  now = w * window
end
local elapsed = now - w * window
local reset = window - elapsed
"""

# Returns {allowed, remaining, retry_after_ms, reset_ms}.
FIXED_WINDOW_LUA = (
    _CLOCK
    + """
local count = 0
if seen_w == w then count = tonumber(state[2]) or 0 end
if count >= limit then
  return {0, 0, reset, reset}
end
count = count + 1
redis.call('HSET', KEYS[1], 'w', w, 'c', count)
redis.call('PEXPIRE', KEYS[1], reset)
return {1, limit - count, 0, reset}
"""
)

SLIDING_WINDOW_LUA = (
    _CLOCK
    + """
local current, previous = 0, 0
if seen_w == w then
  current = tonumber(state[2]) or 0
  previous = tonumber(state[3]) or 0
elseif seen_w == w - 1 then
  previous = tonumber(state[2]) or 0
end
local weight = (window - elapsed) / window
local estimate = previous * weight + current
if estimate + 1 > limit then
  local retry
  if current + 1 <= limit then
    -- wait until the previous window's share has decayed enough
    retry = math.ceil((estimate + 1 - limit) * window / previous)
  else
    -- this window is full: wait into the next one, where this window's count decays
    retry = reset + math.ceil(window * (1 - (limit - 1) / current))
  end
  if retry < 1 then retry = 1 end
  return {0, 0, retry, reset}
end
current = current + 1
redis.call('HSET', KEYS[1], 'w', w, 'c', current, 'p', previous)
-- the counts matter until the end of the next window, when they stop weighing
redis.call('PEXPIRE', KEYS[1], reset + window)
return {1, math.floor(limit - estimate - 1), 0, reset}
"""
)

# One sorted set per caller: the admitted requests of the last window. ARGV: limit,
# window ms, now ms or '', a unique member suffix. Returns {allowed, remaining,
# retry_after_ms, reset_ms}: reset is when the oldest admitted request leaves the window.
SLIDING_LOG_LUA = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local reset = window
if count > 0 then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  reset = oldest + window - now
  if reset < 1 then reset = 1 end
end
if count >= limit then
  return {0, 0, reset, reset}
end
redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - count - 1, 0, reset}
"""

_SCRIPTS = {"log": SLIDING_LOG_LUA, "sliding": SLIDING_WINDOW_LUA, "fixed": FIXED_WINDOW_LUA}


@dataclass(frozen=True)
class Decision:
    """The outcome of one check; ``retry_after`` and ``reset`` are in seconds."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset: float
    #: True when Valkey was not asked (breaker open) or did not answer: the decision is
    #: the fail-open/fail-closed default, not a count.
    degraded: bool = False


class RateLimiter:
    """``check(caller)`` admits or refuses one request, atomically, in one round trip.

    If Valkey does not answer, the limiter fails open (allows, and logs): a cache
    outage should not turn into a full API outage. Pass ``fail_open=False`` for the
    opposite trade-off. With a ``breaker`` (the one the caching patterns share), a hung
    or dead Valkey costs one timeout per cool-down: while it is open the limiter does not
    call Valkey at all, and its decisions say ``degraded``.
    """

    def __init__(
        self,
        client: CacheClient,
        *,
        prefix: str,
        limit: int,
        window_seconds: float,
        algorithm: Algorithm = "log",
        fail_open: bool = True,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit: limit must be >= 1, got {limit}")
        if window_seconds <= 0:
            raise ValueError(f"rate limit: window must be > 0 seconds, got {window_seconds}")
        if algorithm not in ALGORITHMS:
            raise ValueError(
                f"rate limit: algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
            )
        self.client = client
        self.limit = limit
        self.window_ms = max(1, round(window_seconds * 1000))
        self.algorithm = algorithm
        self.fail_open = fail_open
        self.breaker = breaker
        self._prefix = f"{prefix}:rl:{algorithm}:"
        # The cluster client routes EVALSHA by the first (only) key.
        self._script = client.register_script(_SCRIPTS[algorithm])

    def key(self, caller: str) -> str:
        """The caller's single key (a sorted set or a hash), so scripts never cross slots."""
        if not isinstance(caller, str) or not caller.strip():
            raise ValueError("rate limit: caller must be a non-empty string")
        if len(caller) > MAX_CALLER_LENGTH:
            raise ValueError(
                f"rate limit: caller must be at most {MAX_CALLER_LENGTH} characters, "
                f"got {len(caller)}"
            )
        return self._prefix + caller

    def check(self, caller: str, *, now: float | None = None) -> Decision:
        """Count one request for ``caller``; ``now`` (epoch seconds) overrides the clock."""
        return self.check_and_get(caller, now=now)[0]

    def check_and_get(
        self, caller: str, *, now: float | None = None, also_get: str | None = None
    ) -> tuple[Decision, bytes | None]:
        """:meth:`check`, and ``GET also_get`` in the same round trip (a pipeline): the
        request's cache read rides along with its rate-limit check. The reply is None
        when there is no such key or when Valkey did not answer."""
        key = self.key(caller)
        now_arg = "" if now is None else str(math.floor(now * 1000))
        args = [self.limit, self.window_ms, now_arg, secrets.token_hex(4)]
        raw: bytes | None = None
        try:
            if self.breaker is None:
                reply, raw = self._send(key, args, also_get)
            else:
                reply, raw = self.breaker.call(self._send, key, args, also_get)
        except BreakerOpen:
            return self._default(), None
        except VALKEY_ERRORS as exc:
            log.warning(
                "rate limiter unavailable (%s); failing %s",
                exc,
                "open" if self.fail_open else "closed",
            )
            return self._default(), None
        allowed, remaining, retry_ms, reset_ms = (int(v) for v in reply)
        decision = Decision(
            allowed=bool(allowed),
            limit=self.limit,
            remaining=max(0, remaining),
            retry_after=retry_ms / 1000,
            reset=reset_ms / 1000,
        )
        return decision, raw

    def _send(self, key: str, args: list[Any], also_get: str | None) -> tuple[Any, Any]:
        if also_get is None:
            return self._script(keys=[key], args=args), None
        # EVALSHA rather than the Script object: in a pipeline, valkey-py would first
        # send SCRIPT EXISTS on every execute, an extra round trip.
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            pipe.execute_command("EVALSHA", self._script.sha, 1, key, *args)
            pipe.get(also_get)
            try:
                reply, raw = pipe.execute()
            except NoScriptError:  # a restarted or flushed server: load it, once
                if attempt == 2:
                    raise
                self.client.script_load(self._script.script)
            else:
                return reply, raw
        raise AssertionError("unreachable")  # pragma: no cover

    def _default(self) -> Decision:
        """The answer when Valkey cannot count: allow all, or refuse for a second."""
        if self.fail_open:
            return Decision(True, self.limit, self.limit, 0.0, 0.0, degraded=True)
        return Decision(False, self.limit, 0, 1.0, 1.0, degraded=True)
