"""Load report figures from recorded samples, and the PNG they plot to."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.ops.load import (
    TRANSPORT_ERROR,
    Sample,
    Workload,
    classify,
    per_second,
    render,
    save_plot,
    summarize,
)
from scripts.ops.workload import ZipfSampler

pytestmark = pytest.mark.unit

SAMPLES = [
    Sample(0.1, 0.010, 200, "MISS"),
    Sample(0.2, 0.002, 200, "HIT"),
    Sample(0.7, 0.003, 200, "HIT"),
    Sample(1.1, 0.004, 200, "HIT"),
    Sample(1.2, 0.005, 404, "HIT"),  # a negative-cached unknown id
    Sample(1.3, 0.001, 429, None),
    Sample(1.5, 0.050, 503, None),
    Sample(1.9, 2.000, TRANSPORT_ERROR, None),
]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "ok"),
        (201, "ok"),
        (404, "not_found"),
        (429, "rate_limited"),
        (500, "error"),
        (400, "error"),
        (TRANSPORT_ERROR, "error"),
    ],
)
def test_classify(status: int, kind: str) -> None:
    assert classify(status) == kind


def test_summarize_counts_ratios_and_latency() -> None:
    report = summarize(SAMPLES, duration=2.0)
    assert report.requests == 8
    assert report.throughput == 4.0
    assert (report.hits, report.misses) == (4, 1)
    assert report.hit_ratio == pytest.approx(0.8)
    assert (report.ok, report.not_found, report.rate_limited, report.errors) == (4, 1, 1, 2)
    assert report.error_rate == pytest.approx(0.25)
    assert report.statuses == {"200": 4, "404": 1, "429": 1, "503": 1, "transport": 1}
    # transport failures have no server latency: they are left out of the percentiles
    assert report.latency_ms["max"] == pytest.approx(50.0)
    assert report.latency_ms["p50"] == pytest.approx(4.0)


def test_summarize_nothing() -> None:
    report = summarize([], duration=0.0)
    assert (report.requests, report.throughput, report.hit_ratio, report.error_rate) == (
        0,
        0.0,
        None,
        0.0,
    )


def test_per_second_buckets() -> None:
    rows = per_second(SAMPLES)
    assert [(sec, count) for sec, count, *_ in rows] == [(0, 3), (1, 5)]
    assert rows[0][2] == pytest.approx(3.0)  # p50 of 10, 2, 3 ms


def test_render_names_every_figure() -> None:
    text = render(summarize(SAMPLES, duration=2.0))
    for label in ("throughput", "p50 / p95 / p99", "hit ratio", "rate limited", "errors"):
        assert label in text
    assert "80.0% (4 hits, 1 misses)" in text


def test_save_plot_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "out" / "load.png"
    save_plot(SAMPLES, summarize(SAMPLES, 2.0), path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_workers_get_their_own_reproducible_generators() -> None:
    workload = Workload(ZipfSampler(10, 1.0), seed=5)
    assert workload.rng(0).random() == workload.rng(0).random()
    assert workload.rng(0).random() != workload.rng(1).random()


def test_the_load_help_names_the_seed_size_and_the_plot_stays_out_of_the_tree() -> None:
    from lambda_app.data.seed import PRODUCTS
    from scripts.ops import load

    assert load.SEED_PRODUCTS == PRODUCTS
    assert load.DEFAULT_PLOT.parts[0] == ".local"
