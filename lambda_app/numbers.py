"""What a bounded whole number is, for every layer that checks one.

The pattern classes (``ValueError``), the services (``BadRequest``), the repositories
(``InvalidValue``), and the ops CLI (argparse) each raise their own error, but they
accept the same thing, say it the same way, and refuse a ``bool`` (an ``int`` in Python)
alike; so the rule and its wording live here once.
"""

from __future__ import annotations


def is_whole(value: object, low: int, high: int | None = None) -> bool:
    """An ``int`` that is not a ``bool``, from ``low`` to ``high`` (no upper bound: None)."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def whole_expected(low: int, high: int | None = None) -> str:
    """``a whole number from 1 to 10``, or ``a whole number >= 1``."""
    return f"a whole number from {low} to {high}" if high is not None else (
        f"a whole number >= {low}"
    )
