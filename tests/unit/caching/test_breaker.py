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
