"""XFetch decision math and the lock's bounded wait (no server: fake read/acquire)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_app.caching.stampede import should_recompute_early

pytestmark = pytest.mark.unit


def test_formula_matches_the_paper():
    # now - delta * beta * ln(r) >= expiry, with r = 1 - rand()
    now, delta, expiry = 1000.0, 100.0, 1200.0
    rand = 1 - math.exp(-2.0)  # ln(r) = -2 -> gap = 200 -> exactly at expiry
    assert should_recompute_early(now, delta, expiry, 1.0, lambda: rand)
    assert not should_recompute_early(now - 1, delta, expiry, 1.0, lambda: rand)


def test_never_early_with_zero_random():
    # rand() = 0 -> r = 1 -> ln(1) = 0 -> only at or after expiry
    assert not should_recompute_early(999, 10_000, 1000, 1.0, lambda: 0.0)
    assert should_recompute_early(1000, 10_000, 1000, 1.0, lambda: 0.0)


def test_no_expiry_recorded_means_no_early_recompute():
    assert not should_recompute_early(10**12, 100, 0, 1.0, lambda: 0.999)


@given(
    now=st.floats(0, 1e12),
    delta=st.floats(0, 1e6),
    remaining=st.floats(0, 1e6),
    beta=st.floats(0.01, 10),
    r=st.floats(0, 1, exclude_max=True),
)
def test_always_recomputes_once_expired(now, delta, remaining, beta, r):
    expiry = now - remaining
    if expiry > 0:
        assert should_recompute_early(now, delta, expiry, beta, lambda: r)


def test_probability_grows_as_expiry_nears():
    """P(early) = exp(-remaining / (delta * beta)): check it empirically at three distances."""
    import random

    rng = random.Random(7)
    delta = 100.0
    rates = []
    for remaining in (400.0, 100.0, 10.0):
        hits = sum(
            should_recompute_early(0.0, delta, remaining, 1.0, rng.random) for _ in range(20_000)
        )
        rates.append(hits / 20_000)
        assert rates[-1] == pytest.approx(math.exp(-remaining / delta), abs=0.02)
    assert rates == sorted(rates)


def test_beta_above_one_recomputes_earlier():
    import random

    rng = random.Random(1)
    low = sum(should_recompute_early(0, 100, 300, 0.5, rng.random) for _ in range(5000))
    high = sum(should_recompute_early(0, 100, 300, 2.0, rng.random) for _ in range(5000))
    assert high > low
