"""Logger, Metrics and Tracer: the one place that creates them.

Every handler imports its observability from here, so service name, namespace and
correlation id are configured once. Two choices keep the cold start small and local runs
quiet:

* The X-Ray SDK costs more to import than the whole API (about 180 ms) and Powertools'
  ``Tracer()`` imports it even when tracing is disabled. :func:`traced` therefore builds
  the Tracer on the first invocation, and only when tracing is on: in Lambda, unless
  ``POWERTOOLS_TRACE_DISABLED`` is true. Outside Lambda the SDK is never imported.
* EMF metrics are JSON lines on stdout that only CloudWatch (via the Lambda log agent)
  turns into metrics. Outside Lambda nothing reads them, so they default to off there
  (``POWERTOOLS_METRICS_DISABLED=true`` unless set); set it to ``false`` to see them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_app import metric_names as names
from lambda_app.flags import parse_flag

__all__ = [
    "NAMESPACE",
    "SERVICE",
    "MetricUnit",
    "flush_metrics",
    "in_lambda",
    "logger",
    "metrics",
    "metrics_enabled",
    "traced",
    "tracing_enabled",
]

F = TypeVar("F", bound=Callable[..., Any])

SERVICE = os.environ.get(names.SERVICE_ENV) or names.DEFAULT_SERVICE
NAMESPACE = os.environ.get(names.NAMESPACE_ENV) or names.DEFAULT_NAMESPACE


def in_lambda() -> bool:
    """True inside a real Lambda environment (not SAM local, not this laptop)."""
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")


def tracing_enabled() -> bool:
    """Tracing runs in Lambda unless ``POWERTOOLS_TRACE_DISABLED`` says otherwise."""
    disabled = parse_flag(os.environ.get("POWERTOOLS_TRACE_DISABLED", "")) is True
    return in_lambda() and not disabled


def metrics_enabled() -> bool:
    """EMF is written unless ``POWERTOOLS_METRICS_DISABLED`` (or Powertools' dev mode)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return not is_metrics_disabled()


if not in_lambda():
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

@functools.cache
def _get_tracer() -> Any:
    """The Tracer, created (and the X-Ray SDK imported) on first use only."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=("pymysql", "botocore"))


def flush_metrics(handler: F) -> F:
    """Write this invocation's EMF metrics when it ends (an error included), or drop them.

    Powertools' ``log_metrics`` does not fit a server that may run with metrics off: when
    disabled it neither prints nor clears, so counts pile up, and at 100 values it prints
    them anyway; with nothing to publish it warns on every call.
    """

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            if metrics_enabled() and metrics.metric_set:
                metrics.flush_metrics()
            else:
                metrics.clear_metrics()

    return wrapper  # type: ignore[return-value]


def traced(handler: F) -> F:
    """Wrap a Lambda handler in ``Tracer.capture_lambda_handler`` when tracing is on.

    The decision is taken per call (cheap env reads) so tests can flip it, and the
    wrapped handler is built once.
    """
    wrapped: list[Callable[..., Any]] = []

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        if not tracing_enabled():
            return handler(event, context)
        if not wrapped:
            wrapped.append(_get_tracer().capture_lambda_handler(handler, capture_response=False))
        return wrapped[0](event, context)

    return wrapper  # type: ignore[return-value]
