"""Metrics per data class: counters, derived ratios, EMF deltas."""

from __future__ import annotations

import json

import pytest

from lambda_app.caching.metrics import CacheMetrics

pytestmark = pytest.mark.unit


def test_snapshot_counts_and_ratios():
    m = CacheMetrics()
    for _ in range(6):
        m.hit("product")
    m.hit("product", near=True)
    m.incr("product", "negative_hits")
    m.incr("product", "misses", 2)
    m.load("product", 10.0, ok=True)
    m.load("product", 30.0, ok=False)
    snap = m.snapshot()
    p = snap["product"]
    assert p["hits"] == 7
    assert p["near_hits"] == 1
    assert p["lookups"] == 10
    assert p["hit_ratio"] == 0.8
    assert p["loads"] == 2
    assert p["load_errors"] == 1
    assert p["load_ms_avg"] == 20.0
    assert p["load_ms_max"] == 30.0
    assert snap["user"]["hit_ratio"] == 0.0
    assert snap["total"]["hits"] == 7
    json.dumps(snap)  # ready for /cache/stats


def test_unknown_class_is_added_on_first_use_and_reset_clears():
    m = CacheMetrics(["product"])
    m.hit("custom")
    assert m.snapshot()["custom"]["hits"] == 1
    m.reset()
    assert m.snapshot()["custom"]["hits"] == 0


def test_emf_publishes_deltas_per_class(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CacheTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "svc")
    m = CacheMetrics()
    m.hit("product")
    m.hit("product")
    m.incr("product", "misses")
    m.load("product", 12.0, ok=True)
    m.hit("user")
    lines: list[str] = []
    blobs = m.publish_emf(emit=lines.append)
    assert len(blobs) == len(lines) == 2
    product = next(b for b in blobs if b["data_class"] == "product")
    assert product["CacheHits"] == [2.0]
    assert product["CacheMisses"] == [1.0]
    assert product["CacheLoadLatency"] == [12.0]
    directive = product["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "CacheTest"
    assert ["data_class"] in directive["Dimensions"] or any(
        "data_class" in dims for dims in directive["Dimensions"]
    )
    assert json.loads(lines[0])["_aws"]

    m.hit("product")
    again = m.publish_emf(emit=None)
    assert [b["data_class"] for b in again] == ["product"]
    assert again[0]["CacheHits"] == [1.0]  # only what happened since the last publish
    assert m.publish_emf(emit=None) == []


def test_timed_load_counts_and_times_a_load_and_its_errors():
    from lambda_app.caching.metrics import CacheMetrics

    metrics = CacheMetrics()
    value, elapsed_ms = metrics.timed_load("product", lambda: {"id": 1})
    assert value == {"id": 1}
    assert elapsed_ms >= 0

    def broken():
        raise RuntimeError("db down")

    with pytest.raises(RuntimeError):
        metrics.timed_load("product", broken)
    stats = metrics.snapshot()["product"]
    assert stats["loads"] == 2
    assert stats["load_errors"] == 1
