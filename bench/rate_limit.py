"""Rate limiter: requests let through across a window boundary, exact log vs estimates.

Drives ``lambda_app.caching.rate_limit.RateLimiter`` with an explicit ``now`` (so the
window boundary is exactly where the scenario puts it) against the app's Valkey, with
the limit and window from the settings (``RATE_LIMIT_REQUESTS`` per
``RATE_LIMIT_WINDOW``). Two clients per algorithm:

* a burst straddling a boundary: 4x the limit, evenly spread over the 2 s around it;
* a steady client sending 3x the allowed rate for three windows.

For each, the figure that matters is the most requests let through in any span of one
window length (:func:`max_in_span`): a limiter that keeps its promise never exceeds
the limit there.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bench.context import Context, now_utc
from bench.report import Section, Table, fmt_int, fmt_ratio, line_chart, ratio
from lambda_app.caching.rate_limit import ALGORITHMS, RateLimiter

NAME = "rate_limit"
TITLE = "Rate limiter across a window boundary: sliding log vs sliding counter vs fixed"
EPOCH = 1_800_000_000  # a fixed, reproducible clock origin (seconds)
BURST_FACTOR = 4
BURST_SPAN_S = 2.0
STEADY_FACTOR = 3
STEADY_WINDOWS = 3


def max_in_span(times: Sequence[float], span: float) -> int:
    """The most events in any half-open interval ``[t, t + span)``."""
    ordered = sorted(times)
    best = low = 0
    for high, at in enumerate(ordered):
        while ordered[low] <= at - span:
            low += 1
        best = max(best, high - low + 1)
    return best


def boundary(window_s: int) -> float:
    """A window boundary: the first multiple of the window after :data:`EPOCH`."""
    return float((EPOCH // window_s + 1) * window_s)


@dataclass(frozen=True)
class Scenario:
    name: str
    offered: list[float]  # request times (epoch seconds)


@dataclass(frozen=True)
class Outcome:
    algorithm: str
    scenario: str
    offered: int
    allowed: list[float]


def scenarios(limit: int, window_s: int) -> list[Scenario]:
    edge = boundary(window_s)
    burst = BURST_FACTOR * limit
    step = BURST_SPAN_S / burst
    steady = STEADY_FACTOR * limit * STEADY_WINDOWS
    every = window_s * STEADY_WINDOWS / steady
    start = edge - window_s / 2
    return [
        Scenario(f"burst of {burst} over the {BURST_SPAN_S:g} s around a boundary",
                 [edge - BURST_SPAN_S / 2 + i * step for i in range(burst)]),
        Scenario(f"steady {STEADY_FACTOR}x the allowed rate for {STEADY_WINDOWS} windows",
                 [start + i * every for i in range(steady)]),
    ]


def drive(limiter: RateLimiter, scenario: Scenario) -> Outcome:
    caller = f"{scenario.name.split()[0]}-{uuid.uuid4().hex[:12]}"
    allowed = [at for at in scenario.offered if limiter.check(caller, now=at).allowed]
    return Outcome(limiter.algorithm, scenario.name, len(scenario.offered), allowed)


def run(ctx: Context) -> Section:
    limit, window_s = ctx.settings.rate_limit.requests, ctx.settings.rate_limit.window
    outcomes = []
    for algorithm in ALGORITHMS:
        limiter = RateLimiter(ctx.client, prefix=ctx.keys.prefix, limit=limit,
                              window_seconds=window_s, algorithm=algorithm, fail_open=False)
        outcomes += [drive(limiter, scenario) for scenario in scenarios(limit, window_s)]
    ctx.cleanup()
    return _section(ctx, outcomes, limit, window_s)


def _section(ctx: Context, outcomes: list[Outcome], limit: int, window_s: int) -> Section:
    edge = boundary(window_s)
    rows = []
    worst: dict[str, int] = {}
    for o in outcomes:
        peak = max_in_span(o.allowed, window_s)
        worst[o.algorithm] = max(worst.get(o.algorithm, 0), peak)
        before = sum(1 for at in o.allowed if at < edge)
        rows.append((o.algorithm, o.scenario, fmt_int(o.offered), fmt_int(len(o.allowed)),
                     f"{before} / {len(o.allowed) - before}", fmt_int(peak),
                     fmt_ratio(ratio(peak, limit))))
    table = Table(("algorithm", "client", "offered", "let through",
                   "before / after the first boundary", f"most in any {window_s} s",
                   "vs limit"), tuple(rows), align="llrrrrr")
    burst = [o for o in outcomes if o.scenario.startswith("burst")]
    series = {}
    for o in burst:
        xs = [at - edge for at in o.allowed]
        end = BURST_SPAN_S / 2  # hold the final count to the end of the burst
        series[f"{o.algorithm} ({len(o.allowed)} let through)"] = (
            [-end, *xs, end], [0, *range(1, len(xs) + 1), len(xs)])
    figure = line_chart(
        ctx.out_dir / f"{NAME}.png",
        series,
        title=f"Burst of {BURST_FACTOR * limit} requests around a window boundary "
              f"(limit {limit} per {window_s} s)",
        xlabel="seconds from the window boundary",
        ylabel="requests let through (cumulative)",
        step=True,
        hlines=((limit, f"limit {limit}"),),
        vlines=((0.0, "window boundary"),),
    )
    notes = (
        "The sliding log (`log`, the default) keeps the admitted requests of the last "
        "window in one sorted set per caller and admits one only while fewer than the "
        "limit are in it, so no window-length span ever holds more than the limit, for "
        "the burst and the steady client alike. It costs up to `limit` members per "
        "caller; the two estimates below keep two or three numbers.",
        f"Limit {limit} requests per {window_s} s (the settings' `RATE_LIMIT_REQUESTS`/"
        "`RATE_LIMIT_WINDOW`), one Lua round trip per check against the app's Valkey, "
        "the clock passed explicitly (`check(caller, now=...)`), a fresh caller per run.",
        "The fixed window resets its count at the boundary, so a client that used its "
        "whole allowance just before it gets a second one just after: up to twice the "
        "limit within a couple of seconds. The sliding-window counter weighs the "
        "previous window's count by the share of it still inside the last window "
        "(`previous * (1 - elapsed/window) + current`), so right after the boundary "
        "almost nothing more gets through. It assumes the previous window's requests "
        "were spread evenly; when they were not (a burst at its very end), it can let a "
        "few more than the limit through in the window-length span that follows, which "
        "the steady client shows.",
    )
    return Section(
        name=NAME, title=TITLE, notes=notes, tables=(table,), figures=(figure,),
        quick=ctx.quick, date=now_utc(),
        headline=f"most in any {window_s} s: log {worst.get('log', 0)}, "
                 f"sliding {worst.get('sliding', 0)}, fixed {worst.get('fixed', 0)} "
                 f"(limit {limit})",
    )
