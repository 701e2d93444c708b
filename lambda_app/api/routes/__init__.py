"""One Powertools ``Router`` per resource; ``app.py`` includes them all."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router


def new_router() -> Router:
    """A router (Powertools' constructor is untyped; this is the one place that says so)."""
    return Router()  # type: ignore[no-untyped-call]
