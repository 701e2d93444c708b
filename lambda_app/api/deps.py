"""What routes share: the services accessor and the shapes of cached and empty answers.

``services()`` imports the service layer on first use, so importing the handler module
(the cold start) does not pay for the caching library and the database driver before a
request needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel

from lambda_app.api.middlewares import add_headers

if TYPE_CHECKING:
    from lambda_app.caching.cache_aside import Lookup
    from lambda_app.caching.rate_limit import RateLimiter
    from lambda_app.services import Services

_VALUE: Any = object()


def services() -> Services:
    from lambda_app.services import get_services

    return get_services()


def rate_limiter() -> RateLimiter:
    limiter: RateLimiter = services().rate_limiter
    return limiter


def cached(lookup: Lookup, what: str, key: object, *, body: Any = _VALUE) -> Response[Any]:
    """A cached read's answer, with ``X-Cache: HIT`` or ``MISS`` - on a 404 too.

    A 404 for an unknown id is a cached read as well (negative caching), so the header
    is set for the whole invocation before ``NotFound`` is raised.
    """
    add_headers(**{"X-Cache": "HIT" if lookup.hit else "MISS", "X-Cache-Source": lookup.source})
    if not lookup.found:
        from lambda_app.services.errors import NotFound

        raise NotFound(what, key)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=lookup.value if body is _VALUE else body,
    )


def created(body: BaseModel, *, location: str | None = None) -> Response[Any]:
    """201 with the new resource, and where to find it."""
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Location": location} if location else None,
    )


def no_content() -> Response[None]:
    return Response(status_code=204, content_type=None, body=None)
