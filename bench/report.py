"""What a benchmark hands back, and how it becomes RESULTS.md and PNG plots.

Every benchmark returns a :class:`Section` (tables of already formatted cells, notes,
figure file names and the targets it reports on). Sections are kept in
``results.json`` beside RESULTS.md, so ``python -m bench --only NAME`` re-runs one
benchmark and re-renders the whole page with the other sections as they were.

Plots use matplotlib's Agg backend (no display) at a small size and DPI so each PNG
stays well under 100 KB in the repository.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scripts.ops.output import table as render_table

RESULTS_MD = "RESULTS.md"
RESULTS_JSON = "results.json"

#: Figure size (inches) and DPI: 700x380 px, a few tens of KB per PNG.
FIGSIZE = (7.0, 3.8)
DPI = 100


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Table:
    """Rows of formatted cells; ``align`` is one of l/r/c per column (default: l then r)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str = ""
    caption: str = ""

    def __post_init__(self) -> None:
        width = len(self.headers)
        for row in self.rows:
            if len(row) != width:
                raise ValueError(f"table row {row!r} has {len(row)} cells, expected {width}")
        if self.align and len(self.align) != width:
            raise ValueError(f"align {self.align!r} must give one of l/r/c per column ({width})")
        if set(self.align) - set("lrc"):
            raise ValueError(f"align {self.align!r} may only hold l, r or c")


@dataclass(frozen=True)
class Check:
    """A target the benchmark reports on (never asserts): ``met`` None = not measured."""

    target: str
    measured: str
    limit: str
    met: bool | None


@dataclass(frozen=True)
class Section:
    """One benchmark's results."""

    name: str
    title: str
    headline: str = ""
    notes: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    seconds: float = 0.0
    quick: bool = False
    date: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        """Inverse of :meth:`to_dict` (JSON turns tuples into lists)."""
        tables = tuple(
            Table(
                headers=tuple(t["headers"]),
                rows=tuple(tuple(row) for row in t["rows"]),
                align=t.get("align", ""),
                caption=t.get("caption", ""),
            )
            for t in data.get("tables", ())
        )
        checks = tuple(Check(**c) for c in data.get("checks", ()))
        return cls(
            name=data["name"],
            title=data["title"],
            headline=data.get("headline", ""),
            notes=tuple(data.get("notes", ())),
            tables=tables,
            figures=tuple(data.get("figures", ())),
            checks=checks,
            seconds=float(data.get("seconds", 0.0)),
            quick=bool(data.get("quick", False)),
            date=data.get("date", ""),
            extra=dict(data.get("extra", {})),
        )


# --------------------------------------------------------------------------- numbers


def _three_digits(value: float) -> str:
    """Three significant digits below 1,000 (``2.50``, ``24.8``, ``359``), then whole."""
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_us(seconds: float) -> str:
    """Seconds as microseconds with a precision that suits the magnitude."""
    return _three_digits(seconds * 1e6)


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with a precision that suits the magnitude."""
    return _three_digits(seconds * 1e3)


def fmt_ratio(value: float) -> str:
    """``1.23x``; two significant decimals below 0.1 so tiny ratios stay readable."""
    if not math.isfinite(value):
        return "n/a"
    if value < 0.1:
        return f"{value:.3f}x"
    if value < 10:
        return f"{value:.2f}x"
    return f"{value:,.1f}x"


def fmt_pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def fmt_int(value: float) -> str:
    return f"{round(value):,}"


def fmt_bytes(value: float) -> str:
    if value < 10_000:
        return f"{value:,.0f} B"
    if value < 10_000_000:
        return f"{value / 1024:,.1f} KiB"
    return f"{value / 1024 / 1024:,.1f} MiB"


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, infinity when the denominator is zero."""
    return numerator / denominator if denominator else math.inf


def met_text(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "skipped"}[met]


# --------------------------------------------------------------------------- Markdown


def markdown_table(table: Table) -> str:
    """A GitHub-flavoured Markdown table (the ops CLI's renderer, in Markdown)."""
    align = table.align or "l" + "r" * (len(table.headers) - 1)
    text = render_table(table.headers, table.rows, markdown=True, align=align)
    if table.caption:
        text = f"{table.caption}\n\n{text}"
    return text


def checks_table(sections: Iterable[Section]) -> Table:
    rows = tuple(
        (check.target, check.measured, check.limit, met_text(check.met))
        for section in sections
        for check in section.checks
    )
    return Table(("target", "measured", "limit", "met"), rows, align="llll")


def machine_lines(machine: Mapping[str, str]) -> list[str]:
    return [f"- {name}: {value}" for name, value in machine.items()]


def render_section(section: Section) -> str:
    title = section.title + (" (quick run)" if section.quick else "")
    parts = [f"## {title}"]
    meta = f"Measured {section.date}" if section.date else ""
    if section.seconds:
        meta += f" in {section.seconds:.1f} s"
    if meta:
        parts.append(f"_{meta.strip()}._")
    parts += list(section.notes)
    parts += [markdown_table(table) for table in section.tables]
    parts += [f"![{section.title}]({name})" for name in section.figures]
    return "\n\n".join(parts)


def render_markdown(
    sections: Sequence[Section], machine: Mapping[str, str], *, intro: Sequence[str] = ()
) -> str:
    """The whole RESULTS.md: intro, machine, targets summary, then one part per section."""
    parts = ["# Benchmark results", *intro, "### Machine", "\n".join(machine_lines(machine))]
    summary = checks_table(sections)
    if summary.rows:
        parts += [
            "### Targets (reported, never asserted)",
            "Timings on shared CPUs vary between runs; each ratio compares figures "
            "taken in the same run.",
            markdown_table(summary),
        ]
    parts += [render_section(section) for section in sections]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- storage


def load_sections(out_dir: Path) -> dict[str, Section]:
    """Sections saved by earlier runs (empty if none, or if the file is unreadable)."""
    path = out_dir / RESULTS_JSON
    try:
        data = json.loads(path.read_text())
        return {item["name"]: Section.from_dict(item) for item in data["sections"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def save_results(
    out_dir: Path,
    sections: Sequence[Section],
    machine: Mapping[str, str],
    *,
    order: Sequence[str],
    intro: Sequence[str] = (),
) -> Path:
    """Merge ``sections`` into the saved ones, write results.json and RESULTS.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    merged = load_sections(out_dir)
    merged.update({section.name: section for section in sections})
    ordered = [merged[name] for name in order if name in merged]
    ordered += [s for name, s in sorted(merged.items()) if name not in order]
    (out_dir / RESULTS_JSON).write_text(
        json.dumps(
            {"machine": dict(machine), "sections": [s.to_dict() for s in ordered]},
            indent=1,
            default=str,
        )
        + "\n"
    )
    path = out_dir / RESULTS_MD
    path.write_text(render_markdown(ordered, machine, intro=intro))
    return path


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.dpi": DPI})
    return plt


def _save(fig: Any, path: Path) -> str:
    plt = _pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path.name


def bar_chart(
    path: Path,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str,
    log: bool = False,
    value_format: str = "{:.3g}",
    hlines: Sequence[tuple[float, str]] = (),
    ylim: tuple[float, float] | None = None,
    horizontal: bool = False,
    labels_inside: bool = False,
) -> str:
    """Grouped bars (one group per category, one bar per series), values printed at the
    bar ends; None leaves a gap. ``horizontal`` suits long category names (first on top;
    ``ylabel`` then names the value axis, which runs left to right); ``labels_inside``
    keeps the values clear of reference lines drawn just above the bars."""
    plt = _pyplot()
    height = FIGSIZE[1] if not horizontal else max(FIGSIZE[1], 0.6 + 0.45 * len(categories)
                                                   * max(1, len(series)) ** 0.5)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height))
    count = max(1, len(series))
    width = 0.8 / count
    draw = ax.barh if horizontal else ax.bar
    for index, (label, values) in enumerate(series.items()):
        offset = (index - (count - 1) / 2) * width
        shown = [(i + offset, v) for i, v in enumerate(values) if v is not None]
        bars = draw([x for x, _ in shown], [v for _, v in shown], width,
                    label=label if count > 1 else None)
        ax.bar_label(bars, labels=[value_format.format(v) for _, v in shown], fontsize=7,
                     padding=2, label_type="center" if labels_inside else "edge",
                     color="white" if labels_inside else None)
    for value, label in hlines:
        line = ax.axvline if horizontal else ax.axhline
        line(value, color="black", linestyle="--", linewidth=1, label=label)
    positions = range(len(categories))
    if horizontal:
        ax.set_yticks(positions, categories)
        ax.invert_yaxis()
        ax.set_xlabel(ylabel)
    else:
        ax.set_xticks(positions, categories)
        if len(categories) > 4:
            plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        (ax.set_xscale if horizontal else ax.set_yscale)("log")
    if ylim is not None:
        (ax.set_xlim if horizontal else ax.set_ylim)(*ylim)
    else:
        ax.margins(**{"x" if horizontal else "y": 0.15})
    if count > 1 or hlines:
        ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    return _save(fig, path)


def line_chart(
    path: Path,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    step: bool = False,
    hlines: Sequence[tuple[float, str]] = (),
    vlines: Sequence[tuple[float, str]] = (),
) -> str:
    """One line per series of (xs, ys); optional dashed reference lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    styles = ("-", "--", ":", "-.")
    for index, (label, (xs, ys)) in enumerate(series.items()):
        style = styles[index % len(styles)]
        if step:
            ax.step(xs, ys, where="post", label=label, linestyle=style)
        else:
            ax.plot(xs, ys, label=label, linestyle=style)
    for value, label in hlines:
        ax.axhline(value, color="black", linestyle="--", linewidth=1, label=label)
    for value, label in vlines:
        ax.axvline(value, color="grey", linestyle=":", linewidth=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)
