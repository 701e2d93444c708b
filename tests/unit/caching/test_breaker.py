"""Circuit breaker state machine, driven by an injected clock."""

from __future__ import annotations

import threading

import pytest
from valkey.exceptions import ResponseError

from lambda_app.caching.breaker import BreakerState, CircuitBreaker
from lambda_app.settings import Settings

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker(failure_threshold=3, cooldown_s=5.0, clock=clock)


def fail(breaker, times):
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def test_opens_after_n_consecutive_failures(breaker):
    fail(breaker, 2)
    assert breaker.state == "closed"
    fail(breaker, 1)
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.times_opened == 1


def test_success_resets_the_count(breaker):
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert breaker.state == "closed"


def test_half_open_after_cooldown_allows_one_trial(breaker, clock):
    fail(breaker, 3)
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.allow()  # the trial
    assert breaker.state == "half_open"
    assert not breaker.allow()  # everyone else keeps skipping the cache
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_failed_trial_reopens_for_another_cooldown(breaker, clock):
    fail(breaker, 3)
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.times_opened == 2
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_one_timeout_per_cooldown(breaker, clock):
    """During an outage, calls reaching the cache: threshold, then one per cool-down."""
    attempts = 0
    for _ in range(60):  # 60 one-second ticks with a dead cache...
        for _ in range(100):  # ...and 100 requests in each
            if breaker.allow():
                attempts += 1
                breaker.record_failure()
        clock.now += 1.0
    # 3 failures open it in the first tick, then one trial every 5 s of the remaining 59 s.
    assert attempts == 3 + 59 // 5


def test_late_failure_does_not_extend_cooldown(breaker, clock):
    fail(breaker, 3)
    clock.now += 4
    breaker.record_failure()  # a call that started before the breaker opened
    clock.now += 1
    assert breaker.allow()


def test_snapshot_and_reset(breaker):
    fail(breaker, 3)
    snap = breaker.snapshot()
    assert snap["state"] == "open"
    assert snap["times_opened"] == 1
    breaker.reset()
    assert breaker.snapshot()["state"] == "closed"


def test_concurrent_half_open_admits_exactly_one(breaker, clock):
    fail(breaker, 3)
    clock.now += 5
    admitted = []
    barrier = threading.Barrier(16)

    def call():
        barrier.wait()
        admitted.append(breaker.allow())

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 1


def test_validation_and_settings():
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError, match="cooldown_s"):
        CircuitBreaker(cooldown_s=-1)
    settings = Settings.from_env({"CACHE_BREAKER_FAILURES": "7", "CACHE_BREAKER_COOLDOWN": "2.5"})
    breaker = CircuitBreaker.from_settings(settings.cache)
    assert (breaker.failure_threshold, breaker.cooldown_s) == (7, 2.5)


def test_a_trial_answered_with_an_error_reply_closes_the_breaker() -> None:
    """An error reply means the server is up; a half-open trial that got one must not
    stay "in flight" and keep the breaker refusing every later call."""
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=1.0, clock=lambda: now[0])
    breaker.record_failure()
    now[0] = 2.0

    def answered_with_an_error() -> None:
        raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    with pytest.raises(ResponseError):
        breaker.call(answered_with_an_error)
    assert breaker.allow()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize("exc", [RecursionError("maximum recursion depth exceeded"),
                                 RuntimeError("boom"), ValueError("bad reply")])
def test_any_exception_a_cache_call_raises_counts_as_a_failure(exc) -> None:
    """A client that recursed through reconnects raised RecursionError, which the breaker
    once counted as a success: it never opened. It is a failure, and reaches the caller
    as a connection error, so every fallback treats it as the outage it is."""
    from lambda_app.caching.breaker import CacheCallFailed, CircuitBreaker

    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=60)

    def fails() -> None:
        raise exc

    for _ in range(2):
        with pytest.raises(CacheCallFailed) as raised:
            breaker.call(fails)
        assert raised.value.__cause__ is exc
    assert breaker.state == "open"


def test_a_request_waits_for_one_failed_cache_call_at_most() -> None:
    from valkey.exceptions import TimeoutError as ValkeyTimeout

    from lambda_app.caching import budget
    from lambda_app.caching.breaker import BreakerOpen, CircuitBreaker
    from lambda_app.settings import ValkeySettings

    breaker = CircuitBreaker(failure_threshold=100, cooldown_s=60)
    calls = []

    def times_out() -> None:
        calls.append(1)
        raise ValkeyTimeout("read timed out")

    token = budget.begin(ValkeySettings())
    try:
        with pytest.raises(ValkeyTimeout):
            breaker.call(times_out)
        with pytest.raises(BreakerOpen):  # the same request: skipped, not waited for
            breaker.call(times_out)
    finally:
        budget.end(token)
    assert len(calls) == 1
    with pytest.raises(ValkeyTimeout):  # the next request (or no request) calls again
        breaker.call(times_out)
    assert len(calls) == 2


def test_no_cache_call_starts_when_the_invocation_cannot_afford_its_timeouts() -> None:
    from lambda_app.caching import budget
    from lambda_app.settings import ValkeySettings

    settings = ValkeySettings()
    needed = budget.request_budget_seconds(settings)  # (0.5 + 0.5) x 3 + 2 x 0.5 = 4 s
    assert needed == pytest.approx(4.0)
    token = budget.begin(settings, remaining_ms=int((needed + 0.5) * 1000))
    try:
        assert budget.exhausted()  # less than the budget plus the margin to answer
    finally:
        budget.end(token)
    token = budget.begin(settings, remaining_ms=30_000)
    try:
        assert not budget.exhausted()
    finally:
        budget.end(token)
