"""TTL table, jitter bounds, negative TTL and sliding classes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_app.caching.ttl import DATA_CLASSES, TtlPolicy, UnknownDataClassError, jittered_ms
from lambda_app.settings import Settings

pytestmark = pytest.mark.unit


def test_default_table_matches_the_source():
    policy = TtlPolicy(jitter=0)
    expected = {
        "static": 86_400, "product": 3_600, "user": 900, "price": 10,
        "session": 1_800, "config": 300, "query": 300, "dashboard": 300,
    }
    assert set(DATA_CLASSES) == set(expected)
    for name, seconds in expected.items():
        assert policy.ttl_ms(name) == seconds * 1000
    assert policy.negative_ms() == 60_000


@given(
    seconds=st.floats(min_value=0.01, max_value=10**6),
    jitter=st.floats(min_value=0, max_value=0.5),
    r=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_jitter_stays_within_bounds(seconds, jitter, r):
    ms = jittered_ms(seconds, jitter, lambda: r)
    base = seconds * 1000
    assert ms >= 1
    assert max(1, base * (1 - jitter)) - 1 <= ms <= base * (1 + jitter) + 1


def test_jitter_spreads_expiries():
    policy = TtlPolicy()
    values = {policy.ttl_ms("product") for _ in range(200)}
    assert len(values) > 50
    assert min(values) >= 3_240_000
    assert max(values) <= 3_960_000


def test_from_settings_reads_env_overrides():
    settings = Settings.from_env(
        {"TTL_PRODUCT": "120", "CACHE_TTL_JITTER": "0", "CACHE_NEGATIVE_TTL": "5"}
    )
    policy = TtlPolicy.from_settings(settings.cache)
    assert policy.ttl_ms("product") == 120_000
    assert policy.negative_ms() == 5_000
    assert policy.is_sliding("session")
    assert not policy.is_sliding("product")


def test_unknown_class_lists_known_ones():
    with pytest.raises(UnknownDataClassError, match=r"unknown data class 'bogus'.*product"):
        TtlPolicy().ttl_ms("bogus")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttls": {"product": 0}}, "TTL of data class 'product'"),
        ({"ttls": {"product": "1"}}, "TTL of data class 'product'"),
        ({"jitter": 0.9}, "jitter"),
        ({"negative_ttl": 0}, "negative_ttl"),
        ({"sliding": frozenset({"nope"})}, "unknown data class 'nope'"),
    ],
)
def test_bad_policy_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TtlPolicy(**kwargs)


def test_replace_and_immutability():
    policy = TtlPolicy(jitter=0).replace(price=2)
    assert policy.ttl_ms("price") == 2000
    with pytest.raises(TypeError):
        policy.ttls["price"] = 5  # type: ignore[index]
