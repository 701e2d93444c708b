"""Zipf-distributed item ids: a few hot items, a long tail (what caches are for).

``P(id = k) ∝ 1 / k**s`` for ``k`` in ``1..n_items``: id 1 is the hottest. ``s = 0`` is
uniform; ``s ≈ 1`` is the classic web-catalog skew. The cumulative distribution is
computed once, and each draw is one ``bisect`` on it, so workers can share a sampler and
each bring their own ``random.Random`` (seeded runs are reproducible per worker).
The load command and the benchmarks both draw from here.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate


class ZipfSampler:
    """Draws ids ``1..n_items`` with probability proportional to ``1 / id**s``."""

    def __init__(self, n_items: int, s: float) -> None:
        if n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        if not math.isfinite(s) or s < 0:
            raise ValueError(f"the Zipf exponent s must be a finite number >= 0, got {s}")
        self.n_items = n_items
        self.s = s
        weights = [math.pow(k, -s) for k in range(1, n_items + 1)]
        total = math.fsum(weights)
        self._cdf = [w / total for w in accumulate(weights)]
        self._cdf[-1] = 1.0  # no gap above the last id from rounding

    def probability(self, item: int) -> float:
        """The exact probability of drawing ``item`` (0 outside ``1..n_items``)."""
        if not 1 <= item <= self.n_items:
            return 0.0
        below = self._cdf[item - 2] if item > 1 else 0.0
        return self._cdf[item - 1] - below

    def sample(self, rng: random.Random) -> int:
        return bisect_left(self._cdf, rng.random()) + 1


def zipf_ids(n_items: int, s: float, rng: random.Random) -> Iterator[int]:
    """An endless stream of Zipf-distributed ids drawn with ``rng``."""
    sampler = ZipfSampler(n_items, s)
    while True:
        yield sampler.sample(rng)
