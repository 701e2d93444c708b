"""Lambda entry point for the HTTP API (payload 2.0): ``lambda_app.handlers.api.handler``.

Thin on purpose: observability around :func:`lambda_app.api.app.handle`, which routes
the event. The local server (``scripts/serve.py``) calls this very function.

One invocation at a time per process, as Lambda runs it: Powertools keeps the current
event, the correlation id and the pending metrics in process-wide state. The threaded
local server serialises its calls itself (``scripts/serve.py``).
"""

from __future__ import annotations

from typing import Any

from lambda_app import snapstart
from lambda_app.api.app import handle
from lambda_app.observability import flush_metrics, logger, traced

snapstart.register()


def _prewarm() -> None:
    """The TLS contexts, during init: the first request then only connects. A bad setting
    is left for the first request to report (a 500 naming it in the log)."""
    from lambda_app.clients.tls import prewarm
    from lambda_app.config_types import ConfigError
    from lambda_app.settings import get_settings

    try:
        settings = get_settings()
    except ConfigError:
        return
    prewarm(settings.valkey.tls, settings.valkey.ca_file, settings.db.tls, settings.db.ca_file)


_prewarm()


@traced
@flush_metrics
@logger.inject_lambda_context
def _observed(event: dict[str, Any], context: Any) -> Any:
    # API Gateway's request id, read directly: Powertools' correlation_id_path runs a
    # JMESPath search on every invocation (~15 us of a ~350 us cached read).
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(request_context, dict):
        logger.set_correlation_id(request_context.get("requestId"))
    return handle(event, context)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route one API Gateway HTTP API event; always returns a response, never raises."""
    result: dict[str, Any] = _observed(event, context)
    return result
