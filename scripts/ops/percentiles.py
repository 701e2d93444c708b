"""Latency percentiles, computed the way numpy's default (``linear``) method does.

Linear interpolation between the two closest ranks gives p50/p95/p99 that move smoothly
as samples arrive, and matches what readers get from numpy or pandas on the same data.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: Cut points per hundred: percentiles to 0.01 (p99.99 is the finest a report prints).
_RESOLUTION = 10_000


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` (any order)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    if len(values) == 1 or q in (0, 100):
        return float(min(values) if q == 0 else max(values))
    # "inclusive": linear interpolation between the closest ranks (numpy's default).
    cuts = statistics.quantiles(values, n=_RESOLUTION, method="inclusive")
    return cuts[round(q * _RESOLUTION / 100) - 1]


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in milliseconds (all zero when there are no samples)."""
    if not seconds:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    ms = [s * 1000 for s in seconds]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": math.fsum(ms) / len(ms),
        "max": max(ms),
    }
