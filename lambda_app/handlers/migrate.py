"""Deploy-time migrator: applies the schema migrations, and seeds when asked.

Invoked two ways, both synchronous:

* by the CDK Provider framework as a CloudFormation custom resource (``RequestType``
  Create/Update/Delete): migrations run on Create and Update for this code's version
  (a rollback's Update carries the old one and is answered at once:
  :mod:`lambda_app.handlers.migration_request`); Delete leaves the data alone (the
  database's own removal policy decides its fate). Raising fails the deploy, which is
  what a broken migration should do.
* directly, e.g. by ``python -m scripts.ops seed --remote``: ``{"action": "migrate"}``
  or ``{"action": "seed"}`` (migrate, then load the demo data).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pymysql.connections import Connection

from lambda_app.clients.errors import ServerUnavailable
from lambda_app.clients.mysql import connect
from lambda_app.config_types import ConfigError
from lambda_app.data.errors import DataLayerError, MigrationError
from lambda_app.data.migrations import applied_versions, create_database, migrate
from lambda_app.data.seed import seed_sizes
from lambda_app.handlers.migration_request import stale_reason
from lambda_app.observability import logger
from lambda_app.settings import DatabaseSettings, get_settings

_ACTIONS = ("migrate", "seed")
#: How long a deploy waits for its database to accept connections and the lock.
CONVERGE_SECONDS = 300.0
_FIRST_DELAY_S = 1.0
_MAX_DELAY_S = 20.0
_ANSWER_MARGIN_S = 30.0
T = TypeVar("T")
#: Seed sizes a caller may choose, with their upper bounds (a Lambda has 15 minutes).
_SEED_OPTIONS = {"products": 1_000_000, "users": 1_000_000, "orders": 5_000_000, "seed": 2**31}


def seed_options(event: dict[str, Any]) -> dict[str, int]:
    """The sizes asked for, validated; raises ValueError naming the bad field."""
    chosen: dict[str, int] = {}
    for name, upper in _SEED_OPTIONS.items():
        if name not in event:
            continue
        value = event[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
            raise ValueError(f"{name}: expected a whole number from 0 to {upper}, got {value!r}")
        chosen[name] = value
    return chosen


def converge(
    attempt: Callable[[], T],
    *,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()`` until it succeeds or ``seconds`` have passed, with jittered backoff.

    On a first deploy the database (or RDS Proxy, still registering its target) refuses
    connections for a while, and another deploy may hold the migration lock: both are
    "not yet", not "failed". Anything else (bad credentials aside, which also refuse)
    fails at once.
    """
    deadline = clock() + seconds
    delay = _FIRST_DELAY_S
    while True:
        try:
            return attempt()
        except (ServerUnavailable, MigrationError) as exc:
            wait = random.uniform(delay / 2, delay)
            if clock() + wait >= deadline:
                raise
            logger.warning("database not ready, retrying", extra={"error": str(exc),
                                                                   "retry_in_s": round(wait, 1)})
            sleep(wait)
            delay = min(delay * 2, _MAX_DELAY_S)


def _migrated(settings: DatabaseSettings) -> tuple[Connection[Any], list[int]]:
    create_database(settings)
    conn = connect(settings)
    try:
        applied = migrate(conn)
        if settings.app_secret_arn:
            _grant_app_user(conn, settings)
        return conn, applied
    except BaseException:
        conn.close()
        raise


def _grant_app_user(conn: Connection[Any], settings: DatabaseSettings) -> None:
    """The serving functions' own user, from its secret (``DB_APP_SECRET_ARN``)."""
    from lambda_app.clients.secrets import get_secret_json
    from lambda_app.data.app_user import ensure_app_user

    assert settings.app_secret_arn is not None
    secret = get_secret_json(settings.app_secret_arn, "DB_APP_SECRET_ARN")
    if not secret.get("username") or not secret.get("password"):
        raise ConfigError("DB_APP_SECRET_ARN", settings.app_secret_arn,
                          'a secret holding {"username": ..., "password": ...}')
    ensure_app_user(conn, username=str(secret["username"]), password=str(secret["password"]),
                    database=settings.name)


def _forget_cached(settings: Any) -> int | None:
    from lambda_app.clients.valkey import get_valkey
    from lambda_app.services.cache_admin import forget_reseeded

    return forget_reseeded(get_valkey(settings), settings.cache.prefix)


def run(
    action: str, options: dict[str, int] | None = None, *, wait_s: float = CONVERGE_SECONDS
) -> dict[str, Any]:
    """Migrate (and seed); the figures a deploy log or an operator wants to see. Waits up
    to ``wait_s`` for a database that is not accepting connections yet."""
    settings = get_settings().db
    conn, applied = converge(lambda: _migrated(settings), seconds=wait_s)
    try:
        result: dict[str, Any] = {
            "applied": applied,
            "schema_version": max(applied_versions(conn), default=0),
        }
        if action == "seed":
            report = seed_sizes(conn, options or {})
            result["seeded"] = {
                "products": report.products,
                "users": report.users,
                "orders": report.orders,
                "seconds": round(report.seconds, 3),
            }
            result["cache_keys_cleared"] = _forget_cached(get_settings())
    finally:
        conn.close()
    logger.info("migrator finished", extra={"action": action, **result})
    return result


def wait_seconds(context: Any) -> float:
    """How long to wait for the database: ``CONVERGE_SECONDS``, and never past the
    function's own timeout (minus a margin to answer CloudFormation)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return CONVERGE_SECONDS
    return max(1.0, min(CONVERGE_SECONDS, float(remaining()) / 1000 - _ANSWER_MARGIN_S))


def _custom_resource(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or "database-migrations"
    if request_type == "Delete":
        return {"PhysicalResourceId": physical_id}
    properties = event.get("ResourceProperties") or {}
    stale = stale_reason(properties, os.environ)
    if stale is not None:
        # The same attributes as a migration's answer: outputs read them on rollback too.
        logger.warning("migration skipped", extra={"request_type": request_type,
                                                   "reason": stale})
        return {"PhysicalResourceId": physical_id,
                "Data": {"Applied": "none", "SchemaVersion": "unchanged", "Skipped": stale}}
    action = "seed" if str(properties.get("Seed", "")).lower() == "true" else "migrate"
    result = run(action, wait_s=wait_seconds(context))
    data = {
        "Applied": ",".join(str(v) for v in result["applied"]) or "none",
        "SchemaVersion": str(result["schema_version"]),
    }
    return {"PhysicalResourceId": physical_id, "Data": data}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "RequestType" in event:
        # Errors propagate: the Provider framework reports them and fails the deploy.
        return _custom_resource(event, context)
    action = event.get("action", "migrate")
    if action not in _ACTIONS:
        return {"ok": False, "error": f"action: expected one of {', '.join(_ACTIONS)}"}
    try:
        # An operator's call answers at once: the deploy already waited for the database.
        return {"ok": True, **run(action, seed_options(event), wait_s=0.0)}
    except (ConfigError, ServerUnavailable, DataLayerError, ValueError) as exc:
        logger.error("migrator failed", extra={"error": str(exc)})
        return {"ok": False, "error": str(exc)}
