"""Argument checks shared by the pattern classes: a ValueError that names the argument."""

from __future__ import annotations

from lambda_app.numbers import is_whole, whole_expected


def whole_number(name: str, value: object, *, maximum: int | None = None) -> int:
    """``value`` when it is an ``int`` (not a ``bool``) from 1 to ``maximum``."""
    if not is_whole(value, 1, maximum):
        raise ValueError(f"{name} must be {whole_expected(1, maximum)}, got {value!r}")
    assert isinstance(value, int)
    return value
