"""Request and response models: the API contract, and the source of the OpenAPI document.

Every field is bounded so that no well-formed request can make the database or the cache
fail: ids fit MySQL's INT, text fits its column and is valid UTF-8 (JSON's ``\\ud800``
escapes decode to lone surrogates, which PyMySQL cannot encode), prices fit
``DECIMAL(10,2)``. Integers in bodies are strict (``true`` is not ``1``, ``"5"`` is not
``5``); path and query parameters arrive as text and are parsed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

#: Largest id MySQL's signed INT holds; larger ids cannot exist.
MAX_ID = 2**31 - 1
MAX_TOP = 100
MAX_WARM = 1_000
MAX_DESCRIPTION = 10_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _utf8(value: str) -> str:
    """Reject lone surrogates (from ``\\ud800``-style escapes) and control characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _single_line(value: str) -> str:
    if "\n" in value or "\r" in value or "\t" in value:
        raise ValueError("must be a single line")
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address like name@example.com")
    return value.lower()


Text = Annotated[str, AfterValidator(_utf8)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_utf8),
                 AfterValidator(_single_line)]
Email = Annotated[str, Field(min_length=3, max_length=255), AfterValidator(_utf8),
                  AfterValidator(_email)]
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Price = Annotated[
    Decimal,
    Field(ge=0, max_digits=10, decimal_places=2, examples=[19.99]),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class _Request(BaseModel):
    """Unknown fields are errors: a typo should not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class _Patch(_Request):
    """A partial update: only the fields sent change; ``null`` only where it means "unset"."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of " + ", ".join(type(self).model_fields))
        nulls = sorted(
            name
            for name in self.model_fields_set - self.nullable
            if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: must not be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, as plain values."""
        return self.model_dump(exclude_unset=True)


class _Out(BaseModel):
    """Responses carry what the service returned; extra columns are dropped."""

    model_config = ConfigDict(extra="ignore")


# --- errors -------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error: a stable machine code and a sentence for people."""

    error: str = Field(examples=["validation_error"])
    message: str = Field(examples=["price: Input should be greater than or equal to 0"])
    correlation_id: str | None = None


# --- products -----------------------------------------------------------------------


class ProductIn(_Request):
    name: Name
    price: Price
    description: Annotated[Text, Field(max_length=MAX_DESCRIPTION)] = ""


class ProductUpdate(_Patch):
    """PUT changes the fields given; at least one is required."""

    name: Name | None = None
    price: Price | None = None
    description: Annotated[Text, Field(max_length=MAX_DESCRIPTION)] | None = None


class Product(_Out):
    id: int
    name: str
    price: Money
    description: str | None = None
    views: int = 0
    sales: int = 0
    updated_at: dt.datetime | None = None


class ProductList(_Out):
    items: list[Product]
    count: int


# --- users --------------------------------------------------------------------------


class UserIn(_Request):
    name: Name
    email: Email
    age: Annotated[int, Field(strict=True, ge=0, le=150)] | None = None


class UserUpdate(_Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"age"})

    name: Name | None = None
    email: Email | None = None
    age: Annotated[int, Field(strict=True, ge=0, le=150)] | None = None


class User(_Out):
    id: int
    name: str
    email: str
    age: int | None = None
    created_at: dt.datetime | None = None


# --- sessions -----------------------------------------------------------------------


class SessionIn(_Request):
    user_id: Id


class SessionCreated(_Out):
    token: str
    expires_in: int


class Session(_Out):
    user_id: int
    expires_in: int = Field(description="seconds of inactivity left (refreshed by this read)")
    created_at: dt.datetime | None = None
    last_active: dt.datetime | None = None


# --- stats, health, cache admin ----------------------------------------------------


class Health(BaseModel):
    cache: str = Field(examples=["ok"])
    db: str = Field(examples=["ok"])


class Dashboard(_Out):
    """Orders of the last ``window_hours``: distinct buyers, revenue, average, count."""

    total_users: int
    total_sales: Money
    avg_order: Money | None = None
    orders: int
    window_hours: int


class WarmIn(_Request):
    products_top: Annotated[int, Field(strict=True, ge=1, le=MAX_WARM)] = 100


class Warmed(BaseModel):
    """``warmed`` and ``seconds``, plus the warmer's other counts (skipped, missing...)."""

    model_config = ConfigDict(extra="allow")

    warmed: int
    seconds: float


class InvalidateIn(_Request):
    """Exactly one of: a key, a glob pattern, or a tag (``<resource>:<id>``).

    Keys and patterns may omit the app's prefix (``product:42`` means ``app:product:42``):
    only this app's keys can be deleted.
    """

    key: Annotated[Text, Field(min_length=1, max_length=512, examples=["product:42"])] | None = None
    pattern: Annotated[
        Text, Field(min_length=1, max_length=512, examples=["product:*"])
    ] | None = None
    tag: Annotated[Text, Field(min_length=1, max_length=200, examples=["user:42"])] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InvalidateIn:
        given = [name for name in ("key", "pattern", "tag") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of key, pattern, tag")
        return self


class Deleted(BaseModel):
    model_config = ConfigDict(extra="allow")

    deleted: int


class ClassStats(BaseModel):
    """The library's counters for one data class (this process); extra counters kept."""

    model_config = ConfigDict(extra="allow")

    hits: int = 0
    misses: int = 0
    hit_ratio: float | None = None
    loads: int = 0
    errors: int = 0


class ServerStats(BaseModel):
    model_config = ConfigDict(extra="allow")

    evicted_keys: int | None = None
    expired_keys: int | None = None
    keyspace_hits: int | None = None
    keyspace_misses: int | None = None
    used_memory: int | None = None


class CacheStats(BaseModel):
    classes: dict[str, ClassStats]
    server: ServerStats
    maxmemory_policy: str = Field(
        description="the configured policy (ElastiCache does not allow CONFIG GET)"
    )
    breaker: dict[str, Any] | None = None
