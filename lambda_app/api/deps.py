"""What routes share: the services accessor and the shapes of cached and empty answers.

The service layer (caching library, database driver) is imported with the handler, at
init: every route but ``/health`` and ``/openapi.json`` needs it, the rate limiter
included, so deferring it would only move its cost into the first request.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel

from lambda_app.api.headers import add_headers
from lambda_app.caching.lookup import Lookup
from lambda_app.services import Services, get_services
from lambda_app.services.errors import NotFound

_VALUE: Any = object()


def services() -> Services:
    return get_services()


def cached(lookup: Lookup, what: str, key: object, *, body: Any = _VALUE) -> Response[Any]:
    """A cached read's answer, with ``X-Cache: HIT`` or ``MISS`` - on a 404 too.

    A 404 for an unknown id is a cached read as well (negative caching), so the header
    is set for the whole invocation before ``NotFound`` is raised.
    """
    add_headers(**{"X-Cache": "HIT" if lookup.hit else "MISS", "X-Cache-Source": lookup.source})
    if not lookup.found:
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
