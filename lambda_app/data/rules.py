"""What the repositories accept for each column: one rule per column, and an error that
names the column and what it expects. Column names come only from these whitelists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from lambda_app.auth.emails import InvalidEmail, normalise_email
from lambda_app.data import schema
from lambda_app.data.errors import InvalidValue
from lambda_app.numbers import is_whole, whole_expected

_MAX_PRICE = schema.MAX_PRICE
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def text(field: str, value: object, *, limit: int, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        qualifier = "" if empty else "non-empty "
        raise InvalidValue(field, value, f"a {qualifier}string of at most {limit} characters")
    return value


def count(
    field: str, value: object, *, nullable: bool = False, maximum: int = schema.MAX_ID
) -> Any:
    if value is None and nullable:
        return None
    if not is_whole(value, 0, maximum):
        raise InvalidValue(field, value, whole_expected(0, maximum))
    return value


def price(field: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidValue(field, value, "a Decimal (not float) with at most 2 decimals")
    price = Decimal(value)
    if not price.is_finite() or price < 0 or price > _MAX_PRICE or price != price.quantize(
        Decimal("0.01")
    ):
        raise InvalidValue(field, value, f"a Decimal from 0 to {_MAX_PRICE}, 2 decimals at most")
    return price


def email(field: str, value: object) -> str:
    """An address in its stored form (:func:`lambda_app.auth.emails.normalise_email`)."""
    try:
        email = normalise_email(text(field, value, limit=255))
    except InvalidEmail:
        raise InvalidValue(field, value, "an email address without control characters") from None
    if len(email) > 255 or not _EMAIL.match(email):
        raise InvalidValue(field, value, "an email address")
    return email


def entity_id(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, value, "an integer id")
    return value


def token(value: object) -> str:
    if not isinstance(value, str) or not _TOKEN.match(value):
        raise InvalidValue("sessions.token", "<hidden>", "1-64 URL-safe characters")
    return value


PRODUCT_RULES: Mapping[str, Callable[[str, object], Any]] = {
    "name": lambda field, value: text(field, value, limit=200),
    "price": price,
    "description": lambda field, value: text(field, value, limit=65_535, empty=True),
    "views": count,
    "sales": count,
}
USER_RULES: Mapping[str, Callable[[str, object], Any]] = {
    "name": lambda field, value: text(field, value, limit=200),
    "email": email,
    "age": lambda field, value: count(field, value, nullable=True, maximum=150),
}


def checked(table: str, rules: Mapping[str, Callable[[str, object], Any]],
             fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated values for whitelisted columns; any other name is refused."""
    checked: dict[str, Any] = {}
    for column, value in fields.items():
        rule = rules.get(column)
        if rule is None:
            raise InvalidValue(f"{table}.{column}", value, "one of " + ", ".join(rules))
        checked[column] = rule(f"{table}.{column}", value)
    return checked
