"""The resolver: routes, middlewares, error mapping, OpenAPI; and ``handle`` around it.

``handle`` is what the Lambda handler calls (one invocation at a time: the resolver keeps
the current event in process-wide state). It adds the per-invocation headers, records
request metrics, and turns anything that still escapes into a JSON 500.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from lambda_app import metric_names as names
from lambda_app.api import identity, middlewares, operations
from lambda_app.api.errors import register_error_handlers
from lambda_app.api.headers import begin_headers as headers_for_this_invocation
from lambda_app.api.openapi import annotate_access
from lambda_app.api.routes import cache, health, products, sessions, stats, users
from lambda_app.caching.budget import begin as begin_cache_budget
from lambda_app.caching.budget import end as end_cache_budget
from lambda_app.observability import (
    NAMESPACE,
    SERVICE,
    MetricUnit,
    in_lambda,
    logger,
    metrics,
    metrics_enabled,
)
from lambda_app.services import get_services
from lambda_app.services.health import revive_database
from lambda_app.settings import get_settings

TITLE = "Valkey caching reference API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Caching patterns over ElastiCache for Valkey and RDS MySQL: cache-aside with "
    "negative caching, write-through, sessions with sliding TTL, rate limiting, cached "
    "queries and aggregates, warming and invalidation. Errors are "
    '`{"error": "<code>", "message": "..."}`.'
)

# Validation is placed by hand in middlewares.MIDDLEWARES (after the cheap refusals).
app = APIGatewayHttpResolver(enable_validation=False, debug=False)
app.use(middlewares.MIDDLEWARES)
register_error_handlers(app)
for _module in (health, products, users, sessions, stats, cache):
    app.include_router(_module.router)


@functools.cache
def openapi_json() -> str:
    """The document, generated once per process from the routes and the access rule."""
    document = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    return json.dumps(annotate_access(document), separators=(",", ":"))


operations.use_document(openapi_json)


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                    body=openapi_json())


@functools.cache
def swagger_page() -> str:
    """Swagger UI over the same document as ``/openapi.json``, built on first request.

    Powertools' ``enable_swagger`` would import its OpenAPI object models at start-up
    (tens of ms of cold start) for a page only a developer opens.
    """
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent
    return swagger_ui.generate_swagger_html(
        openapi_json().replace("</", "<\\/"),  # the spec sits inside a <script> element
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )


if not in_lambda():
    # Swagger UI inlines a 1.5 MB bundle: useful on a laptop, not worth it in Lambda.
    @app.get("/docs", include_in_schema=False)
    def docs() -> Response[str]:
        return Response(status_code=200, content_type="text/html", body=swagger_page())


def _is_http_event(event: Any) -> bool:
    return (
        isinstance(event, Mapping)
        and isinstance(event.get("requestContext"), Mapping)
        and isinstance(event["requestContext"].get("http"), Mapping)
    )


def _fallback(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": code, "message": message, **extra}),
        "isBase64Encoded": False,
    }


def handle(event: Any, context: Any) -> dict[str, Any]:
    """Resolve one HTTP API v2 event; never raises."""
    if not _is_http_event(event):
        return _fallback(400, "bad_event", "expected an API Gateway HTTP API (v2) event")
    identity.begin()  # no session validated by a previous invocation carries over
    extra = headers_for_this_invocation()
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        extra["X-Correlation-Id"] = str(correlation_id)
    budget = None
    try:
        budget = begin_cache_budget(get_settings().valkey, _remaining_ms(context))
        if _has_control_characters(event):
            result = _fallback(400, "bad_path", "the path must not contain control characters")
        else:
            revive_database()
            result = app.resolve(_head_as_get(event), context)
    except Exception:
        logger.exception("request failed outside the resolver's handlers")
        result = _fallback(
            500,
            "internal_error",
            "internal error; quote the correlation id when reporting it",
            correlation_id=correlation_id,
        )
    finally:
        if budget is not None:
            end_cache_budget(budget)
    headers = result.setdefault("headers", {})
    for name, value in extra.items():
        headers.setdefault(name, value)
    record_metrics(int(result.get("statusCode", 500)), headers)
    publish_cache_metrics()
    return result


def _remaining_ms(context: Any) -> int | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


def _has_control_characters(event: Mapping[str, Any]) -> bool:
    """A path with a control character is refused before routing: ``$`` in the router's
    patterns matches before a final newline, so ``/cache/warm\n`` would reach a route
    that a check of the path as text does not recognise."""
    http = event["requestContext"]["http"]
    for path in (event.get("rawPath"), http.get("path")):
        if isinstance(path, str) and any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in path):
            return True
    return False


def _head_as_get(event: Any) -> Any:
    """``HEAD`` is answered as ``GET`` (the transport sends no body), so every readable
    resource answers ``HEAD`` as HTTP says it should, on any route table."""
    http = event["requestContext"]["http"]
    if http.get("method") != "HEAD":
        return event
    return {
        **event,
        "routeKey": str(event.get("routeKey", "")).replace("HEAD ", "GET ", 1),
        "requestContext": {**event["requestContext"], "http": {**http, "method": "GET"}},
    }


def publish_cache_metrics() -> None:
    """The caching library's per-data-class counters as EMF, when metrics are on."""
    if not metrics_enabled():
        return
    try:
        get_services().cache.metrics.publish_emf(namespace=NAMESPACE, service=SERVICE)
    except Exception:  # metrics must never break an answer already built
        logger.exception("publishing cache metrics failed")


def record_metrics(status: int, headers: Mapping[str, str]) -> None:
    """One EMF count per answer class, per cache outcome and per refusal."""
    if not metrics_enabled():
        return
    metrics.add_metric(name=names.http_status_class(status), unit=MetricUnit.Count, value=1)
    if status == 429:
        metrics.add_metric(name=names.RATE_LIMITED, unit=MetricUnit.Count, value=1)
