"""What ``verify`` reads to prove the deployment *works*, not only that it is configured.

Each function reads one fact through AWS (or the API itself) for one check: that the
alarm topic reaches somebody, that the app's metrics the dashboard graphs have data,
that the API refuses an unsigned operator call and serves a signed one, and that the
deploy-time migration brought the database to the schema this code expects.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from scripts.ops.http import HttpClient

if TYPE_CHECKING:
    from scripts.ops.inventory import Inventory

TOPIC = "AWS::SNS::Topic"
#: An operator route that changes nothing: what the auth probe calls.
ADMIN_PROBE = "/cache/stats"
#: How far back the metrics probe looks for datapoints (``ops smoke`` first, then this).
LOOKBACK = dt.timedelta(hours=3)
PERIOD = dt.timedelta(minutes=5)

Metric = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions


def alarm_subscriptions(inv: Inventory) -> list[dict[str, Any]]:
    """The subscriptions of the environment's SNS topics (the alarm topic)."""
    sns = inv.client("sns")
    found: list[dict[str, Any]] = []
    for topic in inv.resources(TOPIC):
        reply = sns.list_subscriptions_by_topic(TopicArn=topic)
        found += reply.get("Subscriptions", [])
    return found


def dashboard_app_metrics(inv: Inventory) -> list[Metric]:
    """The metrics in the app's own namespace (not ``AWS/...``) the dashboard graphs."""
    body = inv.client("cloudwatch").get_dashboard(DashboardName=inv.output("dashboard"))
    widgets = json.loads(body["DashboardBody"]).get("widgets", [])
    found: set[Metric] = set()
    for widget in widgets:
        for metric in (widget.get("properties") or {}).get("metrics") or []:
            if not metric or not isinstance(metric[0], str) or metric[0].startswith("AWS/"):
                continue
            pairs = [part for part in metric[2:] if not isinstance(part, dict)]
            dims = tuple(sorted(zip(pairs[0::2], pairs[1::2], strict=False)))
            found.add((metric[0], metric[1], dims))
    return sorted(found)


def datapoints(inv: Inventory, metrics: list[Metric]) -> dict[str, int]:
    """``{"Name{dim=value,...}": datapoints in the last LOOKBACK}`` for each metric."""
    if not metrics:
        return {}
    now = dt.datetime.now(dt.UTC)
    queries = [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in dims]},
                "Period": int(PERIOD.total_seconds()),
                "Stat": "Sum",
            },
        }
        for index, (namespace, name, dims) in enumerate(metrics)
    ]
    reply = inv.client("cloudwatch").get_metric_data(
        # The end a period ahead: the newest datapoint's bucket is still open.
        MetricDataQueries=queries, StartTime=now - LOOKBACK, EndTime=now + PERIOD
    )
    counts = {result["Id"]: len(result.get("Values") or []) for result in
              reply.get("MetricDataResults", [])}
    return {
        f"{name}{{{','.join(f'{k}={v}' for k, v in dims)}}}": counts.get(f"m{index}", 0)
        for index, (_, name, dims) in enumerate(metrics)
    }


def auth_probe(inv: Inventory) -> tuple[int, int]:
    """(status unsigned, status signed with the operator's credentials) of an admin read."""
    from scripts.ops.sigv4 import sigv4_signer

    url = inv.output("api_url")
    unsigned = HttpClient(url, timeout=inv.http_timeout)
    signed = HttpClient(url, timeout=inv.http_timeout, signer=sigv4_signer(
        inv.session.region_name or "us-east-1", credentials=inv.session.get_credentials()))
    try:
        return unsigned.get(ADMIN_PROBE).status, signed.get(ADMIN_PROBE).status
    finally:
        unsigned.close()
        signed.close()


def schema_version(inv: Inventory) -> int:
    """The schema version the deploy-time migration reported (its stack output)."""
    return int(inv.output("schema_version"))


def latest_schema_version() -> int:
    """The newest migration this checkout ships: what a deploy of it must have applied."""
    from lambda_app.data.migrations.versions import MIGRATIONS

    return max(migration.version for migration in MIGRATIONS)
