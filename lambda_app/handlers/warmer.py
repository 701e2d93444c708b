"""Scheduled cache warming: ``lambda_app.handlers.warmer.handler``.

An EventBridge schedule invokes it (warming on a schedule, not only at start-up: a
restarted cache or an evicted hot set is refilled without waiting for traffic); it
warms the top-N products in pipelined, lease-guarded batches and returns and logs how
many and how long. The rule's constant input may set ``products_top``
(1-10000, default 100), ``by`` (``views``|``sales``), ``skip_fresh`` (default true: a
schedule only refreshes what is about to expire) and ``dashboard`` (also recompute the
dashboard aggregate; default false). A bad value fails the invocation with a message
naming it.

Each run also purges expired session rows (idle past the timeout, or past the absolute
lifetime), so the sessions table does not grow without bound: the schedule is the one
the stack already has, and the warmer's database user may delete rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_app.observability import MetricUnit, flush_metrics, logger, metrics, traced
from lambda_app.services.errors import BadRequest

DEFAULT_TOP = 100
_OPTIONS = ("products_top", "by", "skip_fresh", "dashboard")


def options(event: Any) -> dict[str, Any]:
    """The warm options of an event: top-level keys, or the ``detail`` of a custom event.

    A scheduled event's own fields (``source``, ``detail-type``, ``time``...) are ignored.
    """
    if not isinstance(event, Mapping):
        raise BadRequest(f"event: expected an object, got {type(event).__name__}")
    detail = event.get("detail")
    source: Mapping[str, Any] = detail if isinstance(detail, Mapping) and detail else event
    chosen = {name: source[name] for name in _OPTIONS if name in source}
    for flag in ("skip_fresh", "dashboard"):
        if flag in chosen and not isinstance(chosen[flag], bool):
            raise BadRequest(f"{flag}: expected true or false, got {chosen[flag]!r}", flag)
    return {
        "products_top": chosen.get("products_top", DEFAULT_TOP),
        "by": chosen.get("by", "views"),
        "skip_fresh": chosen.get("skip_fresh", True),
        "dashboard": chosen.get("dashboard", False),
    }


def run(event: Any) -> dict[str, Any]:
    """Warm as the event asks; the figures of the run."""
    from lambda_app.services import get_services

    chosen = options(event)
    services = get_services()
    services.db.ensure_alive()  # the environment may have been frozen for hours
    result = services.cache_admin.warm(
        chosen["products_top"], chosen["by"], skip_fresh=chosen["skip_fresh"]
    )
    if chosen["dashboard"]:
        result["dashboard_refreshed"] = services.stats.refresh()
    result["sessions_purged"] = services.sessions.purge()
    return {"products_top": chosen["products_top"], "by": chosen["by"], **result}


@traced
@flush_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge scheduled-event entry point; raises (and logs) when the warm failed."""
    result = run(event)
    logger.info("cache warmed", extra=result)
    metrics.add_metric(name="WarmedKeys", unit=MetricUnit.Count, value=result["warmed"])
    metrics.add_metric(name="WarmSeconds", unit=MetricUnit.Seconds, value=result["seconds"])
    return result
