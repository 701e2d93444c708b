"""Forgetting what this process built from its settings: clients, services, settings.

Settings are read once and connections are reused across invocations; something that
changes the environment (a test, a benchmark) or that resumes a snapshot (SnapStart)
must drop them so the next request builds afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager


def reset_runtime(*, settings: bool = True) -> None:
    """Drop services and connections (and, by default, the parsed settings)."""
    from lambda_app.clients.mysql import reset_databases
    from lambda_app.clients.valkey import reset_clients
    from lambda_app.services import health, reset_services
    from lambda_app.settings import get_settings

    reset_services()
    health.forget()
    if settings:
        get_settings.cache_clear()
    reset_clients()
    reset_databases()


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Run with ``values`` added to ``os.environ`` and the runtime rebuilt from them;
    the environment is restored (and the runtime reset) afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    reset_runtime()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_runtime()
