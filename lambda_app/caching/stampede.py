"""Stampede (dogpile) protection: a short recompute lock, or XFetch early recomputation.

When a hot key expires, every concurrent reader misses at once and runs the same
expensive query: a cache stampede, which "use locking or staggered TTLs" does not stop
until the lock's waiters and the early refresh are built. Two mechanisms, chosen per
data class:

* :class:`RecomputeLock`: the first reader to miss takes ``SET lock NX PX lease`` and
  loads; the others wait briefly, re-reading the key with backoff, and get the value
  the winner wrote (:mod:`claims` takes the lock and re-reads in one script, so each
  poll is one round trip). The wait is bounded: a waiter that sees neither value nor
  lock takes the lock itself (the winner failed), and one that runs out of time loads on
  its own (fallback), so a lost lock costs latency, never an error. Release is
  compare-and-delete on a random token, so a slow winner never frees a lock someone
  else now holds.
* :func:`should_recompute_early` (XFetch, Vattani, Chierichetti and Lowenstein, VLDB
  2015): each reader recomputes *before* expiry with a probability that grows as expiry
  nears and with how long the recompute takes (``delta``, stored with the value):
  ``now - delta * beta * ln(rand()) >= expiry``. The chosen reader takes the lock
  without waiting; if another recompute holds it, the reader serves the current value.
  So under steady traffic one reader refreshes the key while everyone else still hits
  it, and nobody waits.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from lambda_app.clients.valkey import CacheClient

T = TypeVar("T")

Stampede = Literal["none", "lock", "xfetch"]
STRATEGIES: tuple[Stampede, ...] = ("none", "lock", "xfetch")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def should_recompute_early(
    now_ms: float,
    delta_ms: float,
    expires_at_ms: float,
    beta: float = 1.0,
    rand: Callable[[], float] = random.random,
) -> bool:
    """XFetch's decision: ``now - delta * beta * ln(rand()) >= expiry``.

    ``rand()`` is in [0, 1); ``1 - rand()`` is used so ``ln`` never sees 0. With no
    expiry recorded there is nothing to anticipate (False); ``beta > 1`` favours
    earlier recomputation, ``beta < 1`` later.
    """
    if expires_at_ms <= 0:
        return False
    gap = -delta_ms * beta * math.log(1.0 - rand())
    return now_ms + gap >= expires_at_ms


class RecomputeLock:
    """``SET NX PX`` lock with a bounded wait; see the module docstring."""

    def __init__(
        self,
        client: CacheClient,
        *,
        lease_ms: int = 5_000,
        wait_ms: int = 2_000,
        poll_ms: int = 10,
        max_poll_ms: int = 100,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if lease_ms < 1 or wait_ms < 0 or poll_ms < 1 or max_poll_ms < poll_ms:
            raise ValueError(
                "lock timings must satisfy lease_ms >= 1, wait_ms >= 0, "
                f"1 <= poll_ms <= max_poll_ms; got lease_ms={lease_ms}, wait_ms={wait_ms}, "
                f"poll_ms={poll_ms}, max_poll_ms={max_poll_ms}"
            )
        self.client = client
        self.lease_ms = lease_ms
        self.wait_ms = wait_ms
        self.poll_ms = poll_ms
        self.max_poll_ms = max_poll_ms
        self._clock = clock
        self._sleep = sleep
        self._release = client.register_script(_RELEASE)

    def acquire(self, lock_key: str) -> str | None:
        """A token when this caller now holds the lock, else None."""
        token = secrets.token_hex(8)
        return token if self.client.set(lock_key, token, nx=True, px=self.lease_ms) else None

    def release(self, lock_key: str, token: str) -> bool:
        """Delete the lock only if it still holds our token."""
        return bool(self._release(keys=[lock_key], args=[token]))

    def wait(self, attempt: Callable[[], T | None]) -> T | None:
        """Call ``attempt()`` with jittered, doubling pauses until it returns something
        (the holder's value, or the lock once it is free), or ``None`` when ``wait_ms``
        ran out (then load without the lock)."""
        deadline = self._clock() + self.wait_ms / 1000.0
        pause = self.poll_ms / 1000.0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            # Jittered sleep so waiters do not poll in lock-step.
            self._sleep(min(remaining, pause * (0.5 + random.random())))
            settled = attempt()
            if settled is not None:
                return settled
            pause = min(pause * 2, self.max_poll_ms / 1000.0)
