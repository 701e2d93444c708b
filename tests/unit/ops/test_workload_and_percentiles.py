"""Percentile math (numpy's linear method) and the Zipf sampler's skew."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter

import pytest

from scripts.ops.percentiles import latency_ms, percentile
from scripts.ops.workload import ZipfSampler, zipf_ids

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([4, 1, 3, 2], 25, 1.75),  # order does not matter
        ([7], 99, 7),
        (list(range(1, 101)), 95, 95.05),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_agrees_with_statistics_inclusive_quantiles() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 5) for _ in range(1001)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (1, 25, 50, 95, 99):
        assert percentile(values, q) == pytest.approx(cuts[q - 1])


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_rejects_bad_input(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_latency_ms_summary() -> None:
    summary = latency_ms([0.001, 0.002, 0.003, 0.004])
    assert summary == pytest.approx({"p50": 2.5, "p95": 3.85, "p99": 3.97, "mean": 2.5, "max": 4.0})
    assert latency_ms([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}


def test_zipf_probabilities_follow_the_power_law() -> None:
    sampler = ZipfSampler(1000, 1.2)
    probs = [sampler.probability(k) for k in range(1, 1001)]
    assert sum(probs) == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(probs))
    assert probs[0] / probs[1] == pytest.approx(2**1.2)
    assert probs[0] / probs[9] == pytest.approx(10**1.2)
    assert sampler.probability(0) == sampler.probability(1001) == 0.0


def test_sampled_ids_are_skewed_towards_the_head() -> None:
    n, s, draws = 1000, 1.1, 50_000
    ids = list(itertools.islice(zipf_ids(n, s, random.Random(42)), draws))
    counts = Counter(ids)
    assert min(ids) >= 1 and max(ids) <= n
    sampler = ZipfSampler(n, s)
    head_expected = sum(sampler.probability(k) for k in range(1, 11))
    head_seen = sum(counts[k] for k in range(1, 11)) / draws
    assert head_seen == pytest.approx(head_expected, abs=0.01)
    assert counts.most_common(1)[0][0] == 1
    assert counts[1] > counts[2] > counts[10] > counts[100]


def test_exponent_zero_is_uniform() -> None:
    sampler = ZipfSampler(4, 0)
    assert [sampler.probability(k) for k in range(1, 5)] == pytest.approx([0.25] * 4)
    counts = Counter(itertools.islice(zipf_ids(4, 0, random.Random(1)), 40_000))
    assert all(abs(c / 40_000 - 0.25) < 0.01 for c in counts.values())


def test_same_seed_same_stream() -> None:
    first = list(itertools.islice(zipf_ids(100, 1.0, random.Random(7)), 200))
    again = list(itertools.islice(zipf_ids(100, 1.0, random.Random(7)), 200))
    assert first == again


@pytest.mark.parametrize(
    ("n", "s", "says"),
    [(0, 1.0, "n_items"), (10, -0.5, "exponent"), (10, float("inf"), "exponent")],
)
def test_zipf_rejects_bad_parameters(n: int, s: float, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ZipfSampler(n, s)
