"""Input checks shared by the services: ids, field sets, bounded counts.

The HTTP layer validates its requests too; services check again because they are also
called from handlers, scripts and tests, and a bad value must become a ``BadRequest``
naming the field, never a driver error or a stack trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lambda_app.data.schema import MAX_ID
from lambda_app.numbers import is_whole, whole_expected
from lambda_app.services.errors import BadRequest


def entity_id(value: object, field: str = "id") -> int:
    """A positive id that fits MySQL's INT."""
    return bounded(value, field, 1, MAX_ID)


def bounded(value: object, field: str, low: int, high: int) -> int:
    """A whole number (not a bool) from ``low`` to ``high``."""
    if not is_whole(value, low, high):
        raise BadRequest(f"{field}: expected {whole_expected(low, high)}, got {value!r}", field)
    assert isinstance(value, int)
    return value


def choice(value: object, field: str, allowed: Iterable[str]) -> str:
    options = tuple(allowed)
    if value not in options:
        raise BadRequest(f"{field}: expected one of {', '.join(options)}, got {value!r}", field)
    return str(value)


def fields(
    values: object, allowed: Iterable[str], what: str, *, required: Iterable[str] = ()
) -> dict[str, Any]:
    """A mapping limited to ``allowed`` names, holding every ``required`` one."""
    if not isinstance(values, Mapping):
        raise BadRequest(f"{what}: expected an object with fields {', '.join(allowed)}")
    names = tuple(allowed)
    unknown = sorted(str(name) for name in values if name not in names)
    if unknown:
        raise BadRequest(
            f"{what}: unknown field {unknown[0]!r}; expected {', '.join(names)}", unknown[0]
        )
    missing = [name for name in required if name not in values]
    if missing:
        raise BadRequest(f"{what}: {missing[0]} is required", missing[0])
    return dict(values)
