"""How results reach the operator: aligned text tables, JSON, and progress bars.

Tables and JSON go to stdout (a machine reads ``--json`` output, so nothing else may be
printed there); progress bars and diagnostics go to stderr, and progress bars switch
themselves off when stderr is not a terminal or JSON was asked for.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from tabulate import tabulate

PASS = "PASS"  # noqa: S105 - a check status, not a password
FAIL = "FAIL"
ERROR = "ERROR"


class Progress(Protocol):
    """The part of tqdm the commands use (so tests and callers need not import tqdm)."""

    def update(self, n: float = 1) -> bool | None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    markdown: bool = False,
    align: str = "",
) -> str:
    """The one table renderer (tabulate): left-aligned columns under a rule for a
    terminal, or a GitHub Markdown table (``markdown``: pipes in cells escaped). ``align``
    has one letter per column, ``l``/``r``/``c``; cells may be any object, shown as is."""
    names = {"l": "left", "r": "right", "c": "center"}
    cells = [[str(cell) for cell in row] for row in rows]
    if markdown:
        headers = [_escape(h) for h in headers]
        cells = [[_escape(cell) for cell in row] for row in cells]
    return tabulate(
        cells,
        headers=list(headers),
        tablefmt="pipe" if markdown else "simple",
        colalign=[names[a] for a in align] if align else None,
        disable_numparse=True,
    )


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def print_json(value: Any) -> None:
    """One JSON document on stdout; unknown types (datetimes, Decimals) become strings."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_text(text: str) -> None:
    sys.stdout.write(text + "\n")


def warn(message: str) -> None:
    """A one-line diagnostic on stderr."""
    sys.stderr.write(message + "\n")


def status(ok: bool) -> str:
    return PASS if ok else FAIL


@contextmanager
def progress(
    *, total: float | None, desc: str, unit: str = "it", enabled: bool = True
) -> Iterator[Progress]:
    """A tqdm bar on stderr; silent when disabled or when stderr is not a terminal."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=None if enabled else True,  # None: only on a terminal
        leave=False,
        dynamic_ncols=True,
    )
    try:
        yield bar
    finally:
        bar.close()
