"""Request and response models: the API contract, and the source of the OpenAPI document.

Every field is bounded so that no well-formed request can make the database or the cache
fail: ids fit MySQL's INT, text fits its column and is valid UTF-8 (JSON's ``\\ud800``
escapes decode to lone surrogates, which PyMySQL cannot encode), prices fit
``DECIMAL(10,2)``. Integers in bodies are strict (``true`` is not ``1``, ``"5"`` is not
``5``); path and query parameters arrive as text and are parsed.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from lambda_app.api.fields import (
    INTEGRAL,
    Age,
    Count,
    Description,
    Email,
    Id,
    Money,
    Name,
    Password,
    Price,
    SentTime,
    UtcTime,
    matches,
)
from lambda_app.data.schema import MAX_TOP, MAX_WARM
from lambda_app.services.cache_admin import INVALIDATABLE

__all__ = ["MAX_TOP"]  # routes read the listing bound from the contract's module


class _Request(BaseModel):
    """Unknown fields are errors: a typo should not be silently ignored.

    Every model of the contract defers building its validator to first use
    (``defer_build``): a cold start that answers ``GET /products/{id}`` builds the product
    models only, not the user, session and cache-admin ones (~20 ms at import and ~20 ms
    off the first request, measured in ``bench``)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")


#: A field of the representation GET returns, accepted back by PUT and ignored.
READ_ONLY = Field(json_schema_extra={"readOnly": True}, description="read-only: ignored")


class _NoNulls(_Request):
    """An explicit ``null`` is refused except in ``nullable`` fields: an optional field
    may be left out, which is not the same as sending null (the schema says which)."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(
            name
            for name in self.model_fields_set - self.nullable
            if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: must not be null")
        return self


class _Patch(_NoNulls):
    """A partial update (PATCH, merge semantics): only the fields sent change; ``null``
    only where it means "unset" (the fields in ``nullable``)."""

    model_config = ConfigDict(
        defer_build=True, extra="forbid", json_schema_extra={"minProperties": 1}
    )

    @model_validator(mode="before")
    @classmethod
    def _something(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("give at least one of " + ", ".join(cls.model_fields))
        return data

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, as plain values."""
        return self.model_dump(exclude_unset=True)


class _Out(BaseModel):
    """Responses carry what the service returned; extra columns are dropped."""

    model_config = ConfigDict(defer_build=True, extra="ignore")


# --- errors -------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error: a stable machine code and a sentence for people."""

    model_config = ConfigDict(defer_build=True)

    error: str = Field(examples=["validation_error"])
    message: str = Field(examples=["price: Input should be greater than or equal to 0"])
    correlation_id: str | None = None


# --- products -----------------------------------------------------------------------


class ProductIn(_Request):
    """A new product (POST)."""

    name: Name
    price: Price
    description: Description = ""


class ProductReplace(_Request):
    """PUT: the whole product, as GET returns it. Read-only fields are ignored."""

    name: Name
    price: Price
    description: Description | None = Field("", description="null is stored as empty")
    id: Annotated[Id | None, READ_ONLY] = None
    views: Annotated[Count | None, READ_ONLY] = None
    sales: Annotated[Count | None, READ_ONLY] = None
    updated_at: Annotated[SentTime | None, READ_ONLY] = None

    def values(self) -> dict[str, Any]:
        return {"name": self.name, "price": self.price, "description": self.description or ""}


class ProductPatch(_Patch):
    """PATCH: the fields given change; at least one is required."""

    name: Name | SkipJsonSchema[None] = None
    price: Price | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None


class Product(_Out):
    id: int
    name: str
    price: Money
    description: str | None = None
    views: int = 0
    sales: int = 0
    updated_at: UtcTime | None = None


class ProductList(_Out):
    items: list[Product]
    count: int


# --- users --------------------------------------------------------------------------


class UserIn(_Request):
    """A new user (POST); the password is stored only as a salted scrypt hash."""

    name: Name
    email: Email
    age: Age | None = None
    password: Password


class UserReplace(_NoNulls):
    """PUT: the whole user, as GET returns it (read-only fields ignored). A password,
    if given, replaces the old one; without one the old one stays."""

    name: Name
    email: Email
    age: Age | None = None
    password: Password | SkipJsonSchema[None] = None
    id: Annotated[Id | None, READ_ONLY] = None
    created_at: Annotated[SentTime | None, READ_ONLY] = None

    nullable: ClassVar[frozenset[str]] = frozenset({"age", "id", "created_at"})

    def values(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "age": self.age}


class UserPatch(_Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"age"})

    name: Name | SkipJsonSchema[None] = None
    email: Email | SkipJsonSchema[None] = None
    age: Age | None = None
    password: Password | SkipJsonSchema[None] = None


class User(_Out):
    id: int
    name: str
    email: str
    age: int | None = None
    created_at: UtcTime | None = None


# --- sessions -----------------------------------------------------------------------


class LoginIn(_Request):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=256)]


class SessionCreated(_Out):
    token: str = Field(description="send as `Authorization: Bearer <token>`; shown once")
    expires_in: int = Field(description="seconds of inactivity before the session ends")
    user_id: int


class Session(_Out):
    user_id: int
    expires_in: int = Field(description="seconds of inactivity left (refreshed by this read)")
    created_at: UtcTime | None = None
    last_active: UtcTime | None = None


# --- stats, health, cache admin ----------------------------------------------------


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    products_top: Annotated[int, Field(strict=True, ge=1, le=MAX_WARM), INTEGRAL] = 100


class Warmed(BaseModel):
    """``warmed`` and ``seconds``, plus the warmer's other counts (skipped, missing...)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    warmed: int
    seconds: float


_ONE_OF_TARGETS: JsonDict = {
    "oneOf": [{"required": [name]} for name in ("key", "pattern", "tag")]
}
_CLASSES = "|".join(INVALIDATABLE)
#: ``<data class>:<rest>``: only cached data, never sessions or counters, can be named.
_TARGET = f"^({_CLASSES}):[^\\u0000-\\u001f\\u007f]+$"
_TAG = f"^({_CLASSES}):[A-Za-z0-9_.@+=,/-]{{1,200}}$"
_TARGET_RULE = f"must start with a cached data class ({', '.join(INVALIDATABLE)}) and ':'"


_Target = Annotated[
    str,
    Field(min_length=1, max_length=512, json_schema_extra={"pattern": _TARGET}),
    AfterValidator(matches(_TARGET, _TARGET_RULE)),
]
_Tag = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": _TAG}),
    AfterValidator(matches(_TAG, _TARGET_RULE + ", then an id")),
]


class InvalidateIn(_Request):
    """Exactly one of: a key, a glob pattern, or a tag (``<resource>:<id>``).

    Names are relative to the app (``product:42``, ``product:*``): the service adds its
    key prefix. Only cached data classes can be named, never sessions or counters.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", json_schema_extra=_ONE_OF_TARGETS)

    key: _Target | SkipJsonSchema[None] = Field(None, examples=["product:42"])
    pattern: _Target | SkipJsonSchema[None] = Field(None, examples=["product:*"])
    tag: _Tag | SkipJsonSchema[None] = Field(None, examples=["user:42"])

    @model_validator(mode="after")
    def _exactly_one(self) -> InvalidateIn:
        given = sorted(self.model_fields_set)
        if len(given) != 1 or getattr(self, given[0]) is None:
            raise ValueError("give exactly one of key, pattern, tag (not null)")
        return self


class Deleted(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    deleted: int


class ClassStats(BaseModel):
    """The library's counters for one data class (this process); extra counters kept."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    hits: int = 0
    misses: int = 0
    hit_ratio: float | None = None
    loads: int = 0
    errors: int = 0


class ServerStats(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")

    evicted_keys: int | None = None
    expired_keys: int | None = None
    keyspace_hits: int | None = None
    keyspace_misses: int | None = None
    used_memory: int | None = None


class CacheStats(BaseModel):
    model_config = ConfigDict(defer_build=True)

    classes: dict[str, ClassStats]
    server: ServerStats
    maxmemory_policy: str = Field(
        description="the configured policy (ElastiCache does not allow CONFIG GET)"
    )
    breaker: dict[str, Any] | None = None
