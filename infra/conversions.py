"""Config values (plain strings and numbers) -> CDK enums, in one place.

Why: :mod:`infra.config` stays free of CDK imports (fast to test, no jsii), and the few
places that need a ``RemovalPolicy`` or ``RetentionDays`` share one mapping.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

_REMOVAL = {
    "destroy": RemovalPolicy.DESTROY,
    "snapshot": RemovalPolicy.SNAPSHOT,
}


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention for ``days`` (config already restricted the values)."""
    return _RETENTION[days]


def data_removal(policy: str) -> RemovalPolicy:
    """For resources that can be snapshotted on delete (cache, database)."""
    return _REMOVAL[policy]


def plain_removal(policy: str) -> RemovalPolicy:
    """For keys, secrets and log groups: no snapshot, so anything but destroy means retain."""
    return RemovalPolicy.DESTROY if policy == "destroy" else RemovalPolicy.RETAIN


def log_removal(policy: str) -> RemovalPolicy:
    """For every log group: kept unless the environment is throwaway (``destroy``). The
    logs of an incident are what an operator reads after the stack is gone. A kept group
    with a fixed name (RDS's) must be deleted by hand before the same environment is
    created again."""
    return plain_removal(policy)
