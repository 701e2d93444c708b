"""Field types of the API contract: each rule is written once, as a JSON Schema keyword
that the OpenAPI document shows, and the validator enforces exactly that keyword.

A rule that only Python knew (a ``strip()`` here, an email regex there) would let a
client that follows the document be refused; every pattern below is therefore plain
JSON Schema (ECMA 262) syntax that Python's ``re`` reads the same way: explicit
character classes, no ``\\s`` (the two dialects disagree on what is white space).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from lambda_app.auth.emails import REFUSED_BMP_CLASS, RULE, UNSAFE_BMP_CLASS, normalise_email
from lambda_app.data.schema import MAX_ID, MAX_PRICE

MAX_DESCRIPTION = 10_000

#: C0 and C1 control characters but tab, line feed and carriage return.
_CONTROL = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
_LINE_BREAKS = "\\u0009\\u000a\\u000d"
_SPACE = (
    _LINE_BREAKS
    + "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
#: The same white space as characters, for ``str.strip``.
_SPACE_CHARS = (
    "\t\n\r \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
#: Text: no control characters (tab, line feed and carriage return are allowed).
TEXT_PATTERN = f"^[^{_CONTROL}]*$"
#: One line with at least one visible character.
_IN_LINE = f"[^{_CONTROL}{_LINE_BREAKS}]*"
NAME_PATTERN = f"^{_IN_LINE}[^{_CONTROL}{_SPACE}]{_IN_LINE}$"
#: ``local@domain.tld``: no spaces, control or format characters, or second ``@``.
_EMAIL_PART = f"[^@{REFUSED_BMP_CLASS}{UNSAFE_BMP_CLASS}{_SPACE}]+"
EMAIL_PATTERN = f"^{_EMAIL_PART}@{_EMAIL_PART}\\.{_EMAIL_PART}$"
#: A price given as a string: up to 8 digits, then up to 2 decimals.
PRICE_STRING_PATTERN = "^(0|[1-9][0-9]{0,7})([.][0-9]{1,2})?$"


def matches(pattern: str, rule: str) -> Any:
    """A check of ``pattern`` that fails with ``rule``, a message people can read."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(rule)
        return value

    return check


def _matching(pattern: str, rule: str) -> tuple[Any, Any]:
    """The pattern in the schema, and a check of it with a message people can read."""
    return Field(json_schema_extra={"pattern": pattern}), AfterValidator(matches(pattern, rule))


def _valid_unicode(value: str) -> str:
    """JSON's ``\\ud800`` escapes decode to lone surrogates, which MySQL cannot store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _integral(value: Any) -> Any:
    """``5.0`` is the integer 5 in JSON Schema; ``5.5``, ``"5"`` and ``true`` are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    """MySQL sessions run in UTC and PyMySQL hands back naive datetimes: say so."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _cents(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if not 0 <= value <= MAX_PRICE:
        raise ValueError(f"must be from 0 to {MAX_PRICE}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValueError("must have at most 2 decimal places")
    return value.quantize(Decimal("0.01"))


_EMAIL_RULE = "must be an email address like name@example.com"


def _visible(value: str) -> str:
    """A control or format character gets its own message, not the pattern's."""
    normalise_email(value)
    return value


def _normal_email(value: str) -> str:
    """The stored form (:mod:`lambda_app.auth.emails`), which must still be an address
    (a full-width at sign, say, would make a second ``@``)."""
    folded = normalise_email(value)
    if len(folded) > 255 or not re.match(EMAIL_PATTERN, folded):
        raise ValueError(f"{_EMAIL_RULE} once normalised")
    return folded


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    return value


def _price_input(value: Any) -> Any:
    """A JSON number as an exact Decimal; a string only in the documented form."""
    if isinstance(value, bool):
        raise ValueError("must be a number or a decimal string like \"19.99\"")
    if isinstance(value, str):
        if not re.match(PRICE_STRING_PATTERN, value):
            raise ValueError("a price string must look like \"19.99\"")
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


#: With ``Field(strict=True)``: JSON integers, and floats that are whole numbers.
INTEGRAL = BeforeValidator(_integral)


_TEXT = _matching(TEXT_PATTERN, "must not contain control characters")
_NAME = _matching(NAME_PATTERN, "must be one line with a visible character")
_EMAIL = _matching(EMAIL_PATTERN, _EMAIL_RULE)

Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID), INTEGRAL]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_ID), INTEGRAL]
Age = Annotated[int, Field(strict=True, ge=0, le=150), INTEGRAL]
Text = Annotated[str, *_TEXT, AfterValidator(_valid_unicode)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION), *_TEXT,
                        AfterValidator(_valid_unicode)]
Name = Annotated[
    str,
    Field(min_length=1, max_length=200),
    *_NAME,
    AfterValidator(_valid_unicode),
    AfterValidator(lambda value: value.strip(_SPACE_CHARS)),
]
Email = Annotated[
    str,
    Field(min_length=3, max_length=255, examples=["user00001@example.com"], description=RULE),
    AfterValidator(_visible),
    *_EMAIL,
    AfterValidator(_valid_unicode),
    AfterValidator(_normal_email),
]
Password = Annotated[
    str,
    Field(min_length=12, max_length=256, description="at least 12 characters; never returned"),
    AfterValidator(_valid_unicode),
]
#: A price: a JSON number, or a decimal string for exactness ("19.99").
Price = Annotated[
    Decimal,
    BeforeValidator(_price_input),
    AfterValidator(_cents),
    Field(
        json_schema_extra={
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": float(MAX_PRICE),
                 "multipleOf": 0.01},
                {"type": "string", "pattern": PRICE_STRING_PATTERN},
            ],
            "description": "at most 2 decimal places; a string keeps it exact",
            "examples": [19.99],
        },
    ),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
UtcTime = Annotated[dt.datetime, AfterValidator(_utc)]
#: A timestamp a client sends back (PUT of what GET returned): RFC 3339 text only.
SentTime = Annotated[dt.datetime, BeforeValidator(_text_only)]
