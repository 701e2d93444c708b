"""Argument checks shared by the pattern classes: a ValueError that names the argument."""

from __future__ import annotations


def whole_number(name: str, value: object, *, maximum: int | None = None) -> int:
    """``value`` when it is an ``int`` (not a ``bool``) from 1 to ``maximum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < 1
        or (maximum is not None and value > maximum)
    ):
        bounds = ">= 1" if maximum is None else f"from 1 to {maximum}"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    return value
