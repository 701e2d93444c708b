"""Deploy-time migrator: applies the schema migrations, and seeds when asked.

Invoked two ways, both synchronous:

* by the CDK Provider framework as a CloudFormation custom resource (``RequestType``
  Create/Update/Delete): migrations run on Create and Update; Delete leaves the data
  alone (the database's own removal policy decides its fate). Raising fails the deploy,
  which is what a broken migration should do.
* directly, e.g. by ``python -m scripts.ops seed --remote``: ``{"action": "migrate"}``
  or ``{"action": "seed"}`` (migrate, then load the demo data).
"""

from __future__ import annotations

from typing import Any

from lambda_app.clients.errors import ConfigError, ServerUnavailable
from lambda_app.clients.mysql import connect
from lambda_app.data.errors import DataLayerError
from lambda_app.data.migrations import create_database, migrate
from lambda_app.data.seed import seed
from lambda_app.observability import logger
from lambda_app.settings import get_settings

_ACTIONS = ("migrate", "seed")


def run(action: str) -> dict[str, Any]:
    """Migrate (and seed); the figures a deploy log or an operator wants to see."""
    settings = get_settings().db
    create_database(settings)
    conn = connect(settings)
    try:
        applied = migrate(conn)
        result: dict[str, Any] = {"applied": applied}
        if action == "seed":
            report = seed(conn, progress=False)
            result["seeded"] = {
                "products": report.products,
                "users": report.users,
                "orders": report.orders,
                "seconds": round(report.seconds, 3),
            }
    finally:
        conn.close()
    logger.info("migrator finished", extra={"action": action, **result})
    return result


def _custom_resource(event: dict[str, Any]) -> dict[str, Any]:
    request_type = event.get("RequestType")
    physical_id = event.get("PhysicalResourceId") or "database-migrations"
    if request_type == "Delete":
        return {"PhysicalResourceId": physical_id}
    properties = event.get("ResourceProperties") or {}
    action = "seed" if str(properties.get("Seed", "")).lower() == "true" else "migrate"
    result = run(action)
    data = {"Applied": ",".join(str(v) for v in result["applied"]) or "none"}
    return {"PhysicalResourceId": physical_id, "Data": data}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "RequestType" in event:
        # Errors propagate: the Provider framework reports them and fails the deploy.
        return _custom_resource(event)
    action = event.get("action", "migrate")
    if action not in _ACTIONS:
        return {"ok": False, "error": f"action: expected one of {', '.join(_ACTIONS)}"}
    try:
        return {"ok": True, **run(action)}
    except (ConfigError, ServerUnavailable, DataLayerError) as exc:
        logger.error("migrator failed", extra={"error": str(exc)})
        return {"ok": False, "error": str(exc)}
