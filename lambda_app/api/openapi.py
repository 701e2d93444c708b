"""OpenAPI response declarations shared by the routes.

Powertools documents a route's success response from its return annotation; the error
answers, ``X-Cache`` and the ``RateLimit-*`` headers are declared here once so the
generated document describes what the API really sends.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from aws_lambda_powertools.event_handler.openapi.types import (
    OpenAPIResponse,
    OpenAPIResponseHeader,
)

from lambda_app.api.models import ErrorBody
from lambda_app.caching.lookup import Source

_INT = {"type": "integer"}

RATE_LIMIT_HEADERS: dict[str, OpenAPIResponseHeader] = {
    "RateLimit-Limit": {"description": "requests allowed per window", "schema": _INT},
    "RateLimit-Remaining": {"description": "requests left in this window", "schema": _INT},
    "RateLimit-Reset": {"description": "seconds until the window resets", "schema": _INT},
}
CACHE_HEADER: dict[str, OpenAPIResponseHeader] = {
    "X-Cache": {
        "description": "HIT when answered from Valkey, MISS when loaded from MySQL",
        "schema": {"type": "string", "enum": ["HIT", "MISS"]},
    },
    "X-Cache-Source": {
        "description": "where the answer came from: near (this instance's L1), cache "
        "(Valkey), loader (MySQL, then cached) or bypass (MySQL; the cache was unavailable)",
        "schema": {"type": "string", "enum": list(get_args(Source))},
    },
}

_ERRORS = {
    400: "Invalid input: validation_error (names the field), malformed_json, bad_request",
    401: "No valid credential: wrong email or password (login), or a missing, unknown or "
    "expired bearer token (WWW-Authenticate: Bearer)",
    403: "An operator route called without an IAM (SigV4) signature",
    404: "Unknown id (remembered briefly: negative caching), or another user's id",
    409: "Conflict with existing data (e.g. email already used)",
    413: "Body over 64 KB",
    415: "A body without Content-Type: application/json",
    429: "Rate limited; Retry-After says when to retry",
    500: "Internal error; the body carries a correlation id",
    503: "Database or cache unavailable; nothing was written",
}


def _error(code: int) -> OpenAPIResponse:
    response: OpenAPIResponse = {
        "description": _ERRORS[code],
        "content": {"application/json": {"model": ErrorBody}},
    }
    if code == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
        }
    if code == 429:
        response["headers"] = {
            **RATE_LIMIT_HEADERS,
            "Retry-After": {"description": "seconds to wait", "schema": _INT},
        }
    return response


def responses(
    status: int,
    description: str,
    *errors: int,
    cached: bool = False,
    limited: bool = True,
    body: bool = True,
) -> dict[int, OpenAPIResponse]:
    """The success answer (from the return annotation) plus the listed errors."""
    headers: dict[str, OpenAPIResponseHeader] = {}
    if limited:
        headers.update(RATE_LIMIT_HEADERS)
    if cached:
        headers.update(CACHE_HEADER)
    success: dict[str, Any] = {"description": description}
    if headers:
        success["headers"] = headers
    if not body:
        success["content"] = {}
    found: dict[int, OpenAPIResponse] = {status: success}  # type: ignore[dict-item]
    codes = {*errors, 500} | ({429} if limited else set())
    for code in sorted(codes):
        found[code] = _error(code)
    return found


#: How callers prove who they are; which routes take which comes from ``api.access``.
SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (service `execute-api`) from an operator's "
        "IAM credentials; e.g. `curl --aws-sigv4 aws:amz:<region>:execute-api`. "
        "`make serve` treats requests from loopback as signed by a local operator; "
        "`make serve-sigv4` verifies signatures by the local key pair instead.",
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "the token `POST /sessions` returns",
    },
}
_MEANING = {
    "session": "A logged-in user: the bearer token of their session.",
    "owner": "An operator (SigV4) reads any user; a logged-in user (bearer) only their "
    "own id: another id is 404, exactly as an unknown one. Through API Gateway this "
    "route takes SigV4 only: a logged-in user reads `/users/me`.",
    "operator": "Operators only: a request signed with AWS SigV4 (IAM).",
}


def annotate_access(document: dict[str, Any]) -> dict[str, Any]:
    """State on every operation who may call it, by the same rule the handler and the
    stack apply (``x-caller``: public, session, owner or operator)."""
    from lambda_app.api.access import OPERATOR, OWNER, SESSION, caller_kind

    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            kind = caller_kind(method, path)
            operation["x-caller"] = kind
            if kind in _MEANING:
                operation["description"] = _MEANING[kind] + (
                    " " + operation["description"] if operation.get("description") else ""
                )
            answers = operation.setdefault("responses", {})
            if kind == OPERATOR:
                operation["security"] = [{"sigv4": []}]
                answers["403"] = {
                    "description": _ERRORS[403],
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
            elif kind == OWNER:
                operation["security"] = [{"sigv4": []}, {"bearer": []}]
            elif kind == SESSION:
                operation["security"] = [{"bearer": []}]
    return _without_unused_schemas(document)


def _without_unused_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools publishes its own validation-error schemas whether or not an operation
    answers with them (this API answers ``ErrorBody``): only what the paths reach stays."""
    schemas = document.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    pending = _refs(document.get("paths", {}))
    while pending:
        name = pending.pop()
        if name not in reached and name in schemas:
            reached.add(name)
            pending |= _refs(schemas[name])
    for name in set(schemas) - reached:
        del schemas[name]
    return document


def _refs(node: Any) -> set[str]:
    text = json.dumps(node)
    return set(re.findall(r'"#/components/schemas/([^"]+)"', text))
