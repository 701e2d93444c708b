"""Headers that belong on this invocation's answer, whatever produces it (a route, an
exception handler, a middleware): the handler adds them after the resolver has built
the response. Its own module, so routes, middlewares and the app import it without
importing each other.
"""

from __future__ import annotations

from contextvars import ContextVar

_extra_headers: ContextVar[dict[str, str] | None] = ContextVar("extra_headers", default=None)


def begin_headers() -> dict[str, str]:
    """Start a fresh header set for one invocation."""
    headers: dict[str, str] = {}
    _extra_headers.set(headers)
    return headers


def add_headers(**headers: str) -> None:
    current = _extra_headers.get()
    if current is not None:
        current.update(headers)
