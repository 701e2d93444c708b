"""Every exception the API can meet, mapped to an HTTP answer in one place.

Bodies are always ``{"error": "<code>", "message": "..."}``. Messages say what was wrong
with the request (validation errors name the field) but never carry a stack trace,
a server address or a driver's error text: those go to the log, keyed by the
correlation id, which the last-resort 500 hands back to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)

from lambda_app.observability import logger
from lambda_app.services import errors as domain
from lambda_app.services.errors import CacheUnavailable, ConfigError, DatabaseUnavailable

#: Longest message echoed back; validation messages quote limits, never whole inputs.
_MAX_MESSAGE = 500


class ApiError(Exception):
    """An HTTP-level refusal raised by the API layer itself (size, media type, JSON).

    ``extra`` adds fields beside ``error`` and ``message`` (health names each server).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def method_not_allowed(method: str, path: str, allowed: Sequence[str]) -> ApiError:
    """405 naming the methods ``path`` takes, in ``Allow`` too (RFC 9110)."""
    return ApiError(
        405,
        "method_not_allowed",
        f"{method} is not allowed on {path}; use {', '.join(allowed)}",
        {"Allow": ", ".join(allowed)},
    )


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    """The one shape of every error answer."""
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": code, "message": message, **extra},
        headers=dict(headers or {}),
    )


#: Names pydantic gives the branches of a union in an error's location: how the value
#: was checked, not where it was (``function-after[check(), constrained-str]``, ``none``).
_BRANCH_TAGS = frozenset({"none", "str", "int", "float", "bool", "decimal", "list", "dict",
                          "constrained-str", "constrained-int", "constrained-decimal"})


def _is_branch(part: object) -> bool:
    text = str(part)
    return text in _BRANCH_TAGS or any(mark in text for mark in "[]()")


def _field(loc: Sequence[Any]) -> str:
    """``("body", "price")`` -> ``price``; ``("path", "id")`` -> ``id``; ``("body",)`` -> body.
    List indexes and union branches are left out: the field is what a client sent."""
    parts = [str(p) for p in loc[1:] if not isinstance(p, int) and not _is_branch(p)]
    return ".".join(parts) or (str(loc[0]) if loc else "request")


def _meaningful(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Without the "Input should be None" of an optional field's null branch when the
    field's other branch says what is wrong with the value sent."""
    fields_with_reasons = {
        _field(error.get("loc") or ()) for error in errors if error.get("type") != "none_required"
    }
    return [
        error for error in errors
        if error.get("type") != "none_required"
        or _field(error.get("loc") or ()) not in fields_with_reasons
    ]


def _problem(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid")
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if error.get("type") == "missing":
        return "required"
    return message


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """``price: Input should be greater than or equal to 0; name: required``."""
    seen: list[str] = []
    for error in _meaningful(errors):
        problem = _problem(error)
        field = _field(error.get("loc") or ())
        # model-level checks name their own fields ("name: must not be null")
        text = problem if field == "body" and ":" in problem else f"{field}: {problem}"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) or "invalid request"


def _correlation_id() -> str | None:
    value = logger.get_correlation_id()
    return str(value) if value else None


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Attach every mapping to ``app`` with ``@app.exception_handler``."""

    def handles(
        *types: type[Exception],
    ) -> Callable[[Callable[[Any], Response[Any]]], Callable[[Any], Response[Any]]]:
        register: Callable[[Callable[[Any], Response[Any]]], Callable[[Any], Response[Any]]]
        register = app.exception_handler(list(types))
        return register

    @handles(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @handles(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "request body is not valid JSON")
        return error_response(400, "validation_error", validation_message(errors))

    @handles(RequestUnsupportedContentType)
    def _media_type(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(
            415, "unsupported_media_type", "send the body as application/json"
        )

    @handles(NotFoundError)
    def _no_route(exc: NotFoundError) -> Response[Any]:
        event = app.current_event
        path = event.path
        from lambda_app.api.operations import allowed_methods

        allowed = allowed_methods(path)
        if allowed:
            refusal = method_not_allowed(event.http_method, path, allowed)
            return error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
        return error_response(404, "not_found", f"no route for {event.http_method} {path}")

    @handles(domain.ServiceError)
    def _domain(exc: domain.ServiceError) -> Response[Any]:
        # Every 401 says how to authenticate (RFC 9110): with the bearer token.
        challenge = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message or exc.code, challenge)

    @handles(domain.RateLimited)
    def _limited(exc: domain.RateLimited) -> Response[Any]:
        retry = max(1, math.ceil(exc.retry_after))
        return error_response(
            429,
            "rate_limited",
            f"rate limit of {exc.decision.limit} requests exceeded; retry in {retry} s",
            {"Retry-After": str(retry)},
        )

    @handles(domain.Unavailable, DatabaseUnavailable, CacheUnavailable)
    def _unavailable(exc: Exception) -> Response[Any]:
        # The reason names hosts and driver errors: logged, not returned.
        logger.warning("unavailable: %s", exc)
        advice = "try again shortly"
        if isinstance(exc, domain.Unavailable):
            what, advice = exc.dependency, exc.advice
        else:
            what = "database" if isinstance(exc, DatabaseUnavailable) else "cache"
        return error_response(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "unavailable",
            f"{what} unavailable; {advice}",
            {"Retry-After": "1"},
        )

    @handles(ConfigError)
    def _config(exc: ConfigError) -> Response[Any]:
        logger.error("configuration error: %s", exc)
        return internal_error()

    @handles(ResponseValidationError, Exception)
    def _last_resort(exc: Exception) -> Response[Any]:
        logger.exception("unhandled %s", type(exc).__name__)
        return internal_error()


def internal_error() -> Response[Any]:
    """500 without details; the correlation id finds them in the log."""
    return error_response(
        500,
        "internal_error",
        "internal error; quote the correlation id when reporting it",
        correlation_id=_correlation_id(),
    )
