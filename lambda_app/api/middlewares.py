"""What every request goes through before its route, in this order.

0. :func:`lambda_app.api.guard.check_access` - who may call the matched route.
1. :func:`rate_limit` - per verified caller (IAM principal, session user, else source
   address: :mod:`lambda_app.api.identity`), every route but
   ``/health``; the ``RateLimit-*`` headers go on every limited answer, errors included.
2. :func:`check_body` - 64 KB cap (413), ``Content-Type: application/json`` on every
   operation that takes a body (415 otherwise, an empty body included: a web page can
   send plain text or a form to any site without a CORS preflight), well-formed UTF-8
   JSON (400), before anything parses it.
3. Powertools' OpenAPI request validation, then response validation (around the route).

Powertools' ``enable_validation=True`` would put validation *first*, so an oversized or
rate-limited request would be parsed and validated before being refused; the app turns
it off and adds the same two validation middlewares here, after the cheap refusals.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)

from lambda_app.api.errors import ApiError
from lambda_app.api.guard import check_access
from lambda_app.api.headers import add_headers
from lambda_app.api.identity import network_caller, session_caller
from lambda_app.caching import prefetch
from lambda_app.data.schema import MAX_ID
from lambda_app.services.errors import RateLimited

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from lambda_app.caching.rate_limit import Decision
    from lambda_app.services import Services

MAX_BODY_BYTES = 64 * 1024
UNLIMITED_PATHS = frozenset({"/health"})

#: A cached read whose ``GET`` rides in the rate-limit check's round trip (canonical ids
#: only: anything else is left to the route's validation).
_PREFETCHED_READ = re.compile(r"^/products/([1-9][0-9]{0,9})$")


def _prefetch_key(app: APIGatewayHttpResolver, services: Services) -> str | None:
    if not _is_valid_cached_read(app):
        return None
    return services.products.key(int(app.current_event.path.rsplit("/", 1)[1]))


def rate_limit(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    if app.current_event.path in UNLIMITED_PATHS:
        return next_middleware(app)
    from lambda_app.services import get_services

    services = get_services()
    key = _prefetch_key(app, services)
    limiter = services.rate_limiter
    # The address (or IAM principal) first: a caller over its limit costs no token check.
    decision, raw = limiter.check_and_get(network_caller(app.current_event), also_get=key)
    _admit(decision)
    user = session_caller(app.current_event)
    if user is not None:
        _admit(limiter.check(user))
    if key is None or decision.degraded:
        return next_middleware(app)
    with prefetch.parked(key, raw):
        return next_middleware(app)


def _admit(decision: Decision) -> None:
    """The ``RateLimit-*`` headers of ``decision`` (the tighter one wins); 429 if refused."""
    if decision.degraded:
        from lambda_app.metric_names import RATE_LIMITER_FAIL_OPEN
        from lambda_app.observability import MetricUnit, metrics, metrics_enabled

        if metrics_enabled():  # the stage throttle still applies; say the limiter did not
            metrics.add_metric(name=RATE_LIMITER_FAIL_OPEN, unit=MetricUnit.Count, value=1)
    add_headers(**{
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(max(0, math.ceil(decision.reset))),
    })
    if not decision.allowed:
        raise RateLimited(decision)


def _content_type(app: APIGatewayHttpResolver) -> str:
    value = (app.current_event.headers or {}).get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


#: The one media type a body is read as. A web page may send any site a ``text/plain``,
#: form or type-less body without a CORS preflight; refusing those (415) means no page
#: open in an operator's browser can make the API write. ``curl --json`` sends this.
JSON_MEDIA_TYPE = "application/json"


def _declare_json(app: APIGatewayHttpResolver) -> None:
    """Powertools compares the declared type case-sensitively (``Application/JSON``
    would be its 415): once accepted here, name it the way it expects."""
    headers = app.current_event.raw_event.get("headers") or {}
    for name in list(headers):
        if name.lower() == "content-type":
            headers[name] = JSON_MEDIA_TYPE


def _raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "malformed_body", "request body is not valid base64") from None


def _takes_body(app: APIGatewayHttpResolver) -> bool:
    # The matched route, from Powertools' context: building the OpenAPI document to ask
    # api.operations would cost the first request of every environment ~125 ms.
    route = app.context.get("_route")
    return bool(route is not None and route.dependant.body_params)


def check_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    raw = _raw_body(app)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "payload_too_large",
            f"request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}",
        )
    if not _takes_body(app):
        return next_middleware(app)
    # Checked even without a body: Powertools would try to parse e.g. multipart anyway.
    if _content_type(app) != JSON_MEDIA_TYPE:
        raise ApiError(
            415, "unsupported_media_type", "send the body with Content-Type: application/json"
        )
    _declare_json(app)
    try:
        text = raw.decode("utf-8")
        if text:
            json.loads(text)  # deep nesting (RecursionError) and 5,000-digit ints included
    except (ValueError, RecursionError) as exc:
        where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(400, "malformed_json", f"request body is not valid JSON{where}") from None
    return next_middleware(app)


class _RequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, except for a cached read whose one input, the path
    id, is already known valid: ``_PREFETCHED_READ`` admits only a canonical positive
    id, and the rate-limit step checked it against ``MAX_ID``. Powertools would still
    normalise every query parameter, header and cookie first (~100 µs of a ~370 µs
    cached read); every other request, a malformed id included, is validated by it."""

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        if _is_valid_cached_read(app):
            return next_middleware(app)
        return super().handler(app, next_middleware)


def _is_valid_cached_read(app: APIGatewayHttpResolver) -> bool:
    event = app.current_event
    found = _PREFETCHED_READ.match(event.path) if event.http_method == "GET" else None
    return found is not None and int(found.group(1)) <= MAX_ID and not (
        event.query_string_parameters
    )


#: Powertools' own validation, placed after the cheap refusals above. A route returning
#: something its annotation does not allow is a bug: ResponseValidationError -> 500.
validate_request = _RequestValidation()  # type: ignore[no-untyped-call]
validate_response = OpenAPIResponseValidationMiddleware(has_response_validation_error=True)

MIDDLEWARES: list[Callable[..., Response[Any]]] = [
    check_access,
    rate_limit,
    check_body,
    validate_request,
    validate_response,
]
