"""Preflight checks that depend on the environment being deployed, not only the machine.

Each one stops a deploy that cannot succeed before CDK starts, with the fix:

* ``subscriber``: a protected environment (``termination_protection``) refuses to synth
  without ``monitoring.alarm_email``; ``ops deploy --alarm-email`` passes one.
* ``bytecode``: a bundling synth needs Python 3.14 (or uv, a Docker engine, or the
  project's Debian root) to compile the bundle's bytecode: found now, not minutes in.
* ``concurrency``: Lambda keeps 100 concurrent executions unreserved in every account,
  so the environment's reservations must fit in what the account has left above that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scripts.ops.aws import explain
from scripts.ops.errors import OpsError
from scripts.ops.preflight import Finding
from scripts.ops.project import REPO_ROOT

#: Lambda's floor of unreserved concurrency per account and region (not adjustable).
UNRESERVED_FLOOR = 100
#: Service Quotas' code for "Concurrent executions" (Lambda): what to ask to raise.
CONCURRENCY_QUOTA = "L-B99A9384"


@dataclass(frozen=True)
class Plan:
    """What one environment will deploy, as the CDK app's own config reads it."""

    env: str
    prefix: str
    protected: bool
    alarm_email: str | None
    allow_no_subscriber: bool
    reservations: dict[str, int]  # function role -> reserved concurrency


def load_plan(env: str, overrides: Mapping[str, str] | None = None) -> Plan:
    """cdk.json's ``env`` with ``-c`` style overrides, through ``infra.config`` (its
    validation errors surface as they would in the synth)."""
    from infra.config import ConfigError, load_config

    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    wanted = {**context, "env": env, **(overrides or {})}
    try:
        config = load_config(wanted)
    except ConfigError as exc:
        # A missing subscriber is check_subscriber's finding; anything else stops here.
        try:
            config = load_config({**wanted, "monitoring.allow_no_subscriber": "true"})
        except ConfigError:
            raise OpsError(f"{env}: {exc}") from None
        config = config.model_copy(update={"monitoring": config.monitoring.model_copy(
            update={"allow_no_subscriber": False})})
    functions = config.functions
    reserved = {"api": functions.api_reserved_concurrency,
                "warmer": functions.warmer_reserved_concurrency,
                "migrate": functions.migrate_reserved_concurrency}
    return Plan(
        env=env, prefix=config.prefix, protected=config.termination_protection,
        alarm_email=config.monitoring.alarm_email,
        allow_no_subscriber=config.monitoring.allow_no_subscriber,
        reservations={role: value for role, value in reserved.items() if value},
    )


def check_subscriber(plan: Plan) -> Finding:
    if plan.alarm_email:
        return Finding("subscriber", True, f"alarms go to {plan.alarm_email}")
    if not plan.protected:
        return Finding("subscriber", True, f"{plan.env}: no alarm subscriber (not required)")
    if plan.allow_no_subscriber:
        return Finding("subscriber", True, f"{plan.env}: alarms reach nobody, as "
                       "monitoring.allow_no_subscriber says")
    return Finding("subscriber", False, f"{plan.env} is protected and needs an alarm "
                   "subscriber: pass --alarm-email you@example.com (or set "
                   f"environments.{plan.env}.monitoring.alarm_email in cdk.json)")


def check_bytecode() -> Finding:
    from infra.bundling import BUILD_IMAGE, PYTHON_VERSION
    from infra.bytecode import find_compiler, how_to_fix

    compiler = find_compiler(PYTHON_VERSION, BUILD_IMAGE)
    if compiler is None:
        return Finding("bytecode", False, how_to_fix(PYTHON_VERSION, BUILD_IMAGE))
    where = f" ({compiler.where})" if compiler.where else ""
    return Finding("bytecode", True,
                   f"Python {PYTHON_VERSION} bytecode from {compiler.source}{where}")


def concurrency_verdict(
    plan: Plan, *, limit: int, unreserved: int, ours_now: int
) -> Finding:
    """``limit``/``unreserved``: the account's (GetAccountSettings); ``ours_now``: what
    this environment's functions already reserve (a redeploy keeps it)."""
    wanted = sum(plan.reservations.values())
    left_after = unreserved + ours_now - wanted
    parts = ", ".join(f"{role} {value}" for role, value in sorted(plan.reservations.items()))
    detail = (f"{plan.env} reserves {wanted} ({parts}); the account allows {limit}, "
              f"{unreserved} unreserved now")
    if left_after >= UNRESERVED_FLOOR:
        return Finding("concurrency", True, detail)
    needed = limit + (UNRESERVED_FLOOR - left_after)
    return Finding("concurrency", False, f"{detail}: Lambda keeps {UNRESERVED_FLOOR} "
                   f"unreserved, so the deploy would fail. Ask for at least {needed} "
                   f"concurrent executions (Service Quotas, Lambda, quota {CONCURRENCY_QUOTA}), "
                   "or lower functions.*_reserved_concurrency")


def check_concurrency(session: Any, plan: Plan) -> Finding:
    if not plan.reservations:
        return Finding("concurrency", True, f"{plan.env} reserves none")
    client = session.client("lambda")
    try:
        limit, unreserved = account_concurrency(client)
        ours_now = _reserved_by(client, plan.prefix)
    except Exception as exc:
        return Finding("concurrency", False, "could not read the account's Lambda "
                       f"concurrency: {explain(exc) or exc}")
    return concurrency_verdict(plan, limit=limit, unreserved=unreserved, ours_now=ours_now)


def account_concurrency(client: Any) -> tuple[int, int]:
    """The account's concurrency limit and what is unreserved of it (GetAccountSettings)."""
    limit = client.get_account_settings()["AccountLimit"]
    return int(limit["ConcurrentExecutions"]), int(limit["UnreservedConcurrentExecutions"])


def _reserved_by(client: Any, prefix: str) -> int:
    """Concurrency this environment's functions already hold (their names start with
    the stack names, which start with ``prefix``)."""
    total = 0
    for page in client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if not function["FunctionName"].startswith(prefix):
                continue
            reply = client.get_function_concurrency(FunctionName=function["FunctionName"])
            total += int(reply.get("ReservedConcurrentExecutions") or 0)
    return total
