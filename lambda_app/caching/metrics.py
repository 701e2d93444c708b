"""Cache metrics per data class: a snapshot for ``/cache/stats`` and CloudWatch EMF.

A hit-ratio target (say, above 80%) means nothing without a measurement per data class:
Valkey's own ``keyspace_hits`` mixes every class and counts lock and lease keys too.
Every cache-aside lookup here is counted once, by outcome, per data class:

* ``hits`` (value served from the cache; ``near_hits`` is the in-process share of them),
  ``negative_hits`` (a cached not-found marker answered), ``misses`` (the loader ran, or
  the cache was bypassed);
* ``loads``/``load_errors``/``load_ms_total``/``load_ms_max``: the database work;
* ``errors`` (Valkey failed), ``bypassed`` (breaker open), ``too_large`` (not cached),
  ``lock_waits``/``lock_fallbacks``/``early_recomputes`` (stampede protection),
  ``fenced`` (a fill refused because a writer invalidated the key since its lease
  was taken: the stale-set race, caught).

``hit_ratio = (hits + negative_hits) / (hits + negative_hits + misses)``.

In Lambda, :meth:`CacheMetrics.publish_emf` writes one EMF line per data class through
Powertools (dimension ``data_class``) with the counts *since the previous publish*, so
counters that live across warm invocations are not double counted. EMF is a structured
log line that CloudWatch turns into metrics: no AWS API call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from lambda_app import metric_names as names
from lambda_app.caching.ttl import DATA_CLASSES

T = TypeVar("T")

COUNTERS: tuple[str, ...] = (
    "hits",
    "near_hits",
    "negative_hits",
    "misses",
    "loads",
    "load_errors",
    "load_ms_total",
    "errors",
    "bypassed",
    "too_large",
    "lock_waits",
    "lock_fallbacks",
    "early_recomputes",
    "fenced",
)

#: Counter -> (EMF metric name, unit). load_ms_total is published as an average instead.
_EMF: dict[str, tuple[str, str]] = {
    "hits": (names.CACHE_HITS, "Count"),
    "near_hits": (names.NEAR_CACHE_HITS, "Count"),
    "negative_hits": (names.CACHE_NEGATIVE_HITS, "Count"),
    "misses": (names.CACHE_MISSES, "Count"),
    "loads": (names.CACHE_LOADS, "Count"),
    "load_errors": (names.CACHE_LOAD_ERRORS, "Count"),
    "errors": (names.CACHE_ERRORS, "Count"),
    "bypassed": (names.CACHE_BYPASSED, "Count"),
    "too_large": (names.CACHE_TOO_LARGE, "Count"),
    "lock_waits": (names.CACHE_LOCK_WAITS, "Count"),
    "lock_fallbacks": (names.CACHE_LOCK_FALLBACKS, "Count"),
    "early_recomputes": (names.CACHE_EARLY_RECOMPUTES, "Count"),
    "fenced": (names.CACHE_FENCED, "Count"),
}


class _Counters:
    __slots__ = ("load_ms_max", "values")

    def __init__(self) -> None:
        self.values = dict.fromkeys(COUNTERS, 0.0)
        self.load_ms_max = 0.0


def _derived(values: dict[str, float], load_ms_max: float) -> dict[str, float]:
    out = dict(values)
    answered = values["hits"] + values["negative_hits"]
    lookups = answered + values["misses"]
    out["lookups"] = lookups
    out["hit_ratio"] = round(answered / lookups, 4) if lookups else 0.0
    loads = values["loads"]
    out["load_ms_avg"] = round(values["load_ms_total"] / loads, 3) if loads else 0.0
    out["load_ms_max"] = round(load_ms_max, 3)
    out["load_ms_total"] = round(values["load_ms_total"], 3)
    return out


class CacheMetrics:
    """Thread-safe counters per data class; classes outside the list are added on first use."""

    def __init__(self, classes: Iterable[str] = DATA_CLASSES) -> None:
        self._lock = threading.Lock()
        self._classes: dict[str, _Counters] = {name: _Counters() for name in classes}
        self._published: dict[str, dict[str, float]] = {}

    def _counters(self, data_class: str) -> _Counters:
        counters = self._classes.get(data_class)
        if counters is None:
            counters = self._classes.setdefault(data_class, _Counters())
        return counters

    def incr(self, data_class: str, counter: str, amount: float = 1) -> None:
        """Add to one counter (names in COUNTERS)."""
        with self._lock:
            self._counters(data_class).values[counter] += amount

    def hit(self, data_class: str, *, near: bool = False) -> None:
        with self._lock:
            values = self._counters(data_class).values
            values["hits"] += 1
            if near:
                values["near_hits"] += 1

    def load(self, data_class: str, elapsed_ms: float, *, ok: bool) -> None:
        """One loader call: counted, timed, and flagged when it raised."""
        with self._lock:
            counters = self._counters(data_class)
            counters.values["loads"] += 1
            counters.values["load_ms_total"] += elapsed_ms
            counters.load_ms_max = max(counters.load_ms_max, elapsed_ms)
            if not ok:
                counters.values["load_errors"] += 1

    def timed_load(self, data_class: str, loader: Callable[[], T]) -> tuple[T, float]:
        """Run ``loader`` and record it with :meth:`load`; its exceptions propagate
        (counted as load errors, never cached). Returns the value and the milliseconds."""
        started = time.perf_counter()
        try:
            value = loader()
        except BaseException:
            self.load(data_class, (time.perf_counter() - started) * 1000, ok=False)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.load(data_class, elapsed_ms, ok=True)
        return value, elapsed_ms

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per data class plus ``"total"``, with hit_ratio and load_ms_avg derived."""
        with self._lock:
            raw = {name: (dict(c.values), c.load_ms_max) for name, c in self._classes.items()}
        out = {name: _derived(values, peak) for name, (values, peak) in raw.items()}
        total = dict.fromkeys(COUNTERS, 0.0)
        for values, _ in raw.values():
            for counter in COUNTERS:
                total[counter] += values[counter]
        out["total"] = _derived(total, max((peak for _, peak in raw.values()), default=0.0))
        return out

    def reset(self) -> None:
        with self._lock:
            for name in self._classes:
                self._classes[name] = _Counters()
            self._published.clear()

    def publish_emf(
        self,
        namespace: str | None = None,
        service: str | None = None,
        emit: Callable[[str], Any] | None = print,
    ) -> list[dict[str, Any]]:
        """Write one EMF blob per data class with activity since the last publish.

        ``namespace``/``service`` default to ``POWERTOOLS_METRICS_NAMESPACE`` and
        ``POWERTOOLS_SERVICE_NAME``. Returns the blobs (``emit=None`` only returns them).
        """
        from aws_lambda_powertools.metrics import EphemeralMetrics

        with self._lock:
            current = {name: dict(c.values) for name, c in self._classes.items()}
            previous, self._published = self._published, current
        blobs: list[dict[str, Any]] = []
        for data_class, values in current.items():
            before = previous.get(data_class, {})
            delta = {k: v - before.get(k, 0.0) for k, v in values.items()}
            if not any(delta[k] for k in _EMF):
                continue
            emf = EphemeralMetrics(namespace=namespace, service=service)
            emf.add_dimension(name=names.DATA_CLASS, value=data_class)
            for counter, (name, unit) in _EMF.items():
                if delta[counter]:
                    emf.add_metric(name=name, unit=unit, value=delta[counter])
            if delta["loads"]:
                emf.add_metric(
                    name=names.CACHE_LOAD_LATENCY,
                    unit="Milliseconds",
                    value=delta["load_ms_total"] / delta["loads"],
                )
            blob: dict[str, Any] = dict(emf.serialize_metric_set())
            blobs.append(blob)
            if emit is not None:
                emit(json.dumps(blob, separators=(",", ":")))
        return blobs
