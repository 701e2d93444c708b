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

PASS = "PASS"  # noqa: S105 - a check status, not a password
FAIL = "FAIL"
ERROR = "ERROR"


class Progress(Protocol):
    """The part of tqdm the commands use (so tests and callers need not import tqdm)."""

    def update(self, n: float = 1) -> bool | None: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as left-aligned columns under a header and a rule; cells may be any object."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


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
