"""Benchmark report formatting and the pure math behind the benchmark figures."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from bench import warming
from bench.__main__ import BENCHMARKS
from bench.cold_start import STDLIB, by_package, parse_importtime
from bench.context import Context
from bench.eviction import PolicyRun, _lfu_lead, ideal_hit_ratio
from bench.rate_limit import boundary, max_in_span, scenarios
from bench.report import (
    Check,
    Section,
    Table,
    checks_table,
    fmt_bytes,
    fmt_pct,
    fmt_ratio,
    fmt_us,
    load_sections,
    markdown_table,
    ratio,
    render_markdown,
    save_results,
)
from lambda_app.settings import Settings
from scripts.ops.workload import ZipfSampler

pytestmark = pytest.mark.unit


def section(name: str = "memory", **overrides) -> Section:
    fields: dict[str, Any] = {
        "name": name,
        "title": "Memory per product",
        "notes": ("First note.",),
        "tables": (Table(("shape", "bytes"), (("hash", "283"), ("json", "287"))),),
        "figures": (f"{name}.png",),
        "checks": (Check("hash ≤ json", "283 B", "287 B", True),),
        "date": "2026-01-01 00:00 UTC",
        "seconds": 1.5,
    }
    fields.update(overrides)
    return Section(**fields)


# --------------------------------------------------------------------------- tables


def cells(line: str) -> list[str]:
    """A Markdown table row's cells (an escaped pipe stays inside its cell)."""
    parts = re.split(r"(?<!\\)\|", line.strip())
    return [part.strip() for part in parts[1:-1]]


def test_markdown_table_aligns_first_column_left_and_numbers_right():
    table = Table(("read", "p50 µs", "p99 µs"), (("bare", "24.8", "60.1"),))
    lines = markdown_table(table).splitlines()
    assert [cells(line) for line in lines[::2]] == [
        ["read", "p50 µs", "p99 µs"],
        ["bare", "24.8", "60.1"],
    ]
    rule = cells(lines[1])
    assert rule[0].startswith(":") and not rule[0].endswith(":")
    assert all(mark.endswith(":") and not mark.startswith(":") for mark in rule[1:])


def test_markdown_table_honours_explicit_alignment_caption_and_escapes_pipes():
    table = Table(("a", "b"), (("x|y", "line\nbreak"),), align="cl", caption="Caption.")
    text = markdown_table(table)
    caption, rows = text.split("\n\n")
    header, rule, row = rows.splitlines()
    assert caption == "Caption."
    assert cells(header) == ["a", "b"]
    centre, left = cells(rule)
    assert centre.startswith(":") and centre.endswith(":")
    assert left.startswith(":") and not left.endswith(":")
    assert cells(row) == ["x\\|y", "line break"]


@pytest.mark.parametrize(
    ("headers", "rows", "align", "problem"),
    [
        (("a", "b"), (("1",),), "", "has 1 cells, expected 2"),
        (("a", "b"), (("1", "2"),), "l", "one of l/r/c per column"),
        (("a",), (("1",),), "x", "may only hold l, r or c"),
    ],
)
def test_table_refuses_malformed_input_with_a_clear_message(headers, rows, align, problem):
    with pytest.raises(ValueError, match=problem):
        Table(headers, rows, align=align)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(2.5e-6, "2.50"), (24.84e-6, "24.8"), (359.4e-6, "359"), (1.2166e-3, "1,217")],
)
def test_fmt_us_keeps_three_significant_digits(seconds, text):
    assert fmt_us(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0381, "0.038x"), (1.2, "1.20x"), (27.66, "27.7x"), (1234.0, "1,234.0x"),
     (math.inf, "n/a")],
)
def test_fmt_ratio(value, text):
    assert fmt_ratio(value) == text


def test_ratio_of_zero_is_infinite_not_an_error():
    assert ratio(1.0, 0.0) == math.inf
    assert ratio(3.0, 2.0) == 1.5


def test_fmt_bytes_and_pct():
    assert fmt_bytes(287) == "287 B"
    assert fmt_bytes(406_123) == "396.6 KiB"
    assert fmt_bytes(36_070_000) == "34.4 MiB"
    assert fmt_pct(0.7237) == "72.4%"


# --------------------------------------------------------------------------- page


def test_render_markdown_has_machine_targets_and_every_section_in_order():
    page = render_markdown(
        [section("read_latency", title="Read latency"), section("memory", quick=True)],
        {"cpu": "2 cores"},
        intro=("Intro.",),
    )
    assert page.startswith("# Benchmark results\n\nIntro.\n\n### Machine\n\n- cpu: 2 cores")
    assert "### Targets (reported, never asserted)" in page
    assert ["hash ≤ json", "283 B", "287 B", "yes"] in [cells(line) for line in page.splitlines()]
    assert page.index("## Read latency") < page.index("## Memory per product (quick run)")
    assert "_Measured 2026-01-01 00:00 UTC in 1.5 s._" in page
    assert "![Memory per product](memory.png)" in page


def test_checks_table_marks_misses_and_skips():
    rows = checks_table([section(checks=(Check("t1", "m", "l", False),
                                         Check("t2", "not measured", "l", None)))]).rows
    assert [row[-1] for row in rows] == ["**no**", "skipped"]


def test_section_survives_a_json_round_trip():
    original = section(extra={"hit_ratio": {"allkeys-lfu": 0.72}})
    again = Section.from_dict(json.loads(json.dumps(original.to_dict())))
    assert again == original


def test_save_results_merges_with_earlier_sections_in_benchmark_order(tmp_path):
    save_results(tmp_path, [section("memory"), section("warming", title="Warming")],
                 {"cpu": "x"}, order=BENCHMARKS)
    save_results(tmp_path, [section("memory", headline="second run")], {"cpu": "y"},
                 order=BENCHMARKS)
    saved = load_sections(tmp_path)
    assert saved["memory"].headline == "second run"
    assert saved["warming"].title == "Warming"
    page = (tmp_path / "RESULTS.md").read_text()
    assert page.index("## Warming") < page.index("## Memory per product")
    assert "- cpu: y" in page


def test_load_sections_ignores_a_missing_or_corrupt_file(tmp_path):
    assert load_sections(tmp_path) == {}
    (tmp_path / "results.json").write_text("{not json")
    assert load_sections(tmp_path) == {}


# --------------------------------------------------------------------------- math


def harmonic(n: int) -> float:
    return math.fsum(1 / k for k in range(1, n + 1))


def test_ideal_top_k_of_zipf_1_is_a_ratio_of_harmonic_numbers():
    sampler = ZipfSampler(10_000, 1.0)
    probabilities = [sampler.probability(i) for i in range(1, 10_001)]
    assert ideal_hit_ratio(probabilities, 1_000) == pytest.approx(
        harmonic(1_000) / harmonic(10_000), rel=1e-9
    )
    assert ideal_hit_ratio(probabilities, 1_000) == pytest.approx(0.7647, abs=1e-4)


def test_ideal_top_k_takes_the_most_probable_whatever_the_order():
    assert ideal_hit_ratio([0.1, 0.5, 0.15, 0.25], 2) == pytest.approx(0.75)
    assert ideal_hit_ratio([0.1, 0.5, 0.15, 0.25], 0) == 0.0
    assert ideal_hit_ratio([0.1, 0.5, 0.15, 0.25], 10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be >= 0"):
        ideal_hit_ratio([0.5, 0.5], -1)


def test_eviction_summary_follows_the_data():
    def runs(**ratios: float) -> list[PolicyRun]:
        return [PolicyRun(name.replace("_", "-"), round(v * 1000), 1000, 0, 0.0)
                for name, v in ratios.items()]

    text = _lfu_lead(runs(allkeys_lru=0.640, allkeys_lfu=0.735, allkeys_random=0.641))
    assert "lead the best of the others by 9.4 points" in text
    assert "no better than evicting at random" in text
    assert "at random" not in _lfu_lead(runs(allkeys_lru=0.70, allkeys_random=0.60))
    assert _lfu_lead(runs(allkeys_lfu=0.7)) == ""


def test_max_in_span_counts_the_busiest_half_open_window():
    assert max_in_span([], 60) == 0
    assert max_in_span([0.0, 60.0], 60) == 1  # [0, 60) excludes 60
    assert max_in_span([0.0, 59.9, 60.0, 119.0], 60) == 3  # [59.9, 119.9)
    assert max_in_span([5.0, 1.0, 2.0, 3.0], 2) == 2


def test_rate_limit_scenarios_straddle_a_window_boundary():
    edge = boundary(60)
    assert edge % 60 == 0
    burst, steady = scenarios(limit=100, window_s=60)
    assert len(burst.offered) == 400
    assert min(burst.offered) == edge - 1
    assert max(burst.offered) < edge + 1
    assert len(steady.offered) == 900
    assert min(steady.offered) < edge < max(steady.offered)


def test_importtime_parsing_sums_own_time_by_package():
    stderr = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |   _io",
        "import time:       200 |        500 |     pydantic.types",
        "import time:       300 |        300 |   pydantic",
        "import time:        50 |        850 | lambda_app.handlers.api",
        "Traceback-free noise",
    ])
    modules = parse_importtime(stderr)
    assert modules == [("_io", 100.0), ("pydantic.types", 200.0), ("pydantic", 300.0),
                       ("lambda_app.handlers.api", 50.0)]
    assert by_package(modules) == {"pydantic": 500.0, STDLIB: 100.0, "lambda_app": 50.0}


# --------------------------------------------------------------------------- warming


def warming_section(tmp_path, remotes):
    ctx = Context(Settings.from_env({}), tmp_path)
    median = {(warming.WRITES, warming.LOOP): 0.320, (warming.WRITES, warming.PIPELINED): 0.130,
              (warming.WRITES, warming.PLAIN): 0.112, (warming.END_TO_END, warming.LOOP): 0.381,
              (warming.END_TO_END, warming.PIPELINED): 0.272}
    return warming._section(ctx, median, remotes, repeats=5, remote_repeats=3, batch=500,
                            server=warming.Server(rtt=24.2e-6, lua_calls=200, lua_usec=186_000))


def remote(one_way_ms: float, rtt: float, loop: float, warmer: float) -> warming.Remote:
    return warming.Remote(one_way_ms, rtt, {warming.LOOP: loop, warming.PIPELINED: warmer,
                                            warming.PLAIN: warmer * 0.8})


def test_warming_reports_each_measured_round_trip_against_the_target(tmp_path):
    result = warming_section(tmp_path, [remote(0.05, 0.00021, 2.9, 0.168),
                                        remote(0.2, 0.00052, 6.5, 0.177)])
    checks = [(c.target.split("(")[-1], c.met) for c in result.checks]
    assert checks == [("cache writes, loopback, 24.2 µs RTT)", False),
                      ("cache writes, 0.21 ms RTT, measured through a delay proxy)", False),
                      ("cache writes, 0.52 ms RTT, measured through a delay proxy)", True)]
    assert result.checks[2].measured == "36.7x (6,500 vs 177 ms)"
    labels = [row[0] for row in result.tables[0].rows]
    assert labels == ["loopback, 24.2 µs RTT"] * 5 + \
        ["0.21 ms RTT (proxy, +0.05 ms each way)"] * 3 + \
        ["0.52 ms RTT (proxy, +0.2 ms each way)"] * 3
    assert "The *proxy* rows are measured, not modelled" in " ".join(result.notes)
    assert result.headline.startswith("pipelined 17.3x at 0.21 ms RTT, 36.7x at 0.52 ms RTT")
    assert (tmp_path / "warming.png").read_bytes().startswith(b"\x89PNG")


def test_warming_without_the_proxy_says_why(tmp_path):
    result = warming_section(tmp_path, [])
    assert [c.met for c in result.checks] == [False]
    assert "proxy rows were skipped" in result.notes[-1]
    assert result.headline == "pipelined 2.46x over loopback (writes only), 1.40x end to end"


def test_readme_quotes_the_committed_results_exactly() -> None:
    """README's figures are generated from bench/results (``python -m bench.readme``):
    a figure edited by hand, or results saved without it, fails here."""
    from bench import readme

    text = readme.README.read_text(encoding="utf-8")
    assert readme.current_block(text) == readme.committed_block()


def test_the_readme_block_is_replaced_between_its_markers() -> None:
    from bench import readme

    text = f"intro\n{readme.BEGIN}\nstale 24 µs\n{readme.END}\noutro\n"
    assert readme.replace_block(text, "fresh") == (
        f"intro\n{readme.BEGIN}\n\nfresh\n\n{readme.END}\noutro\n")
