"""Typed configuration values, shared by the runtime's settings and the stack's config.

Both read text (environment variables, ``-c`` context values) and JSON (``cdk.json``),
and both must answer a bad value with one line naming where it came from and what it
accepts. So the value types (bounded whole numbers, flags, lists) and the translation of
a pydantic ``ValidationError`` into a :class:`ConfigError` are defined once, here.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, Strict, ValidationError
from pydantic.fields import FieldInfo

from lambda_app.flags import parse_flag


class ConfigError(ValueError):
    """A setting is missing or malformed; names where it came from and what it accepts.

    The one configuration error of the project: the runtime's environment variables
    (``name`` is the variable) and the stack's CDK context (``name`` is the context key,
    shown as ``context key '...'``) both raise it. ``reason`` replaces "got <value>" when
    the value is fine alone but not with another one.
    """

    def __init__(
        self,
        name: str,
        value: object,
        expected: str,
        *,
        reason: str | None = None,
        context_key: bool = False,
    ) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        where = f"context key '{name}'" if context_key else name
        if reason is not None:
            message = f"{where}: {reason}; expected {expected}"
        else:
            shown = "missing" if value is None or value == "" else repr(value)
            message = f"{where}: expected {expected}, got {shown}"
        super().__init__(message)


#: What ``null`` looks like in a text value (``-c functions.api_reserved_concurrency=null``).
NULL_WORDS = ("", "null", "none")


def _whole_from_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _flag_from_text(value: Any) -> Any:
    if isinstance(value, str):
        parsed = parse_flag(value)
        return value if parsed is None else parsed
    return value


def _null_from_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in NULL_WORDS:
        return None
    return value


def _list_from_text(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: A whole number: digits in text, a JSON integer; never a bool or a float.
Whole = Annotated[int, Strict(), BeforeValidator(_whole_from_text)]
#: true/false, 1/0, yes/no, on/off in text; a JSON boolean.
Flag = Annotated[bool, Strict(), BeforeValidator(_flag_from_text)]
#: Comma-separated in text, a JSON list otherwise.
ListFromText = BeforeValidator(_list_from_text)
#: ``null``/``none``/empty in text means "leave unset".
NullFromText = BeforeValidator(_null_from_text)
#: A whole number, or ``null`` (in JSON or text) to leave it unset; bounds go on the Field.
OptionalWhole = Annotated[Whole | None, NullFromText]
#: A Literal of whole numbers (``Literal[1, 3, 5]``) that also takes them as text.
WholeFromText = BeforeValidator(_whole_from_text)



_KINDS = {
    int: "a whole number",
    float: "a number",
    bool: "true or false (also 1/0, yes/no, on/off)",
    str: "text",
}


def shown(bound: float) -> str:
    """``2592000`` rather than ``2.592e+06``; ``0.1`` stays ``0.1``."""
    return f"{bound:.0f}" if float(bound).is_integer() else f"{bound:g}"


def expected_of(info: FieldInfo) -> str:
    """What a field accepts, in words: its description, else its choices or bounds."""
    if info.description:
        return info.description
    annotation = info.annotation
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        annotation = args[0]
    suffix = " (or null to leave unset)" if nullable else ""
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(annotation)) + suffix
    kind = _KINDS.get(annotation, "a value") if isinstance(annotation, type) else "a value"
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if low is not None and high is not None:
        kind = f"{kind} from {shown(low)} to {shown(high)}"  # type: ignore[arg-type]
    elif low is not None:
        kind = f"{kind} >= {shown(low)}"  # type: ignore[arg-type]
    return kind + suffix


def _field_at(
    model: type[BaseModel], loc: Sequence[str]
) -> tuple[FieldInfo | None, type[BaseModel]]:
    """The field a validation error points at, and the model that holds it."""
    info: FieldInfo | None = None
    for part in loc:
        found = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if found is None:
            break
        info = found
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            model = nested
    return info, model


def config_error(
    error: ValidationError,
    model: type[BaseModel],
    name_of: Callable[[tuple[str, ...]], str],
    *,
    context_key: bool = False,
) -> ConfigError:
    """The first problem of ``error`` as one :class:`ConfigError` line.

    ``name_of`` turns the error's location into what the user typed (an environment
    variable, a context key). A validator that raised ConfigError itself (a check across
    fields) is passed through unchanged.
    """
    first = error.errors()[0]
    raised = (first.get("ctx") or {}).get("error")
    if isinstance(raised, ConfigError):
        return raised
    loc = tuple(part for part in first["loc"] if isinstance(part, str) and not part.startswith("["))
    name = name_of(loc)
    if first["type"] == "extra_forbidden":
        _, holder = _field_at(model, loc[:-1])
        accepted = ", ".join(sorted(holder.model_fields))
        return ConfigError(
            name, None, f"one of {accepted}", reason="unknown key", context_key=context_key
        )
    info, _ = _field_at(model, loc)
    expected = expected_of(info) if info is not None else first["msg"]
    value = None if first["type"] == "missing" else first["input"]
    return ConfigError(name, value, expected, context_key=context_key)
