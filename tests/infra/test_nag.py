"""cdk-nag AwsSolutions (a validation plugin since cdk-nag v3) and CDK's own template rules.

Why the validation report: cdk-nag v3 reports through CDK's policy validation instead of
annotations. The report lists open violations (errors and warnings) and the suppressed
ones with the acknowledgment's reason, so both "none open" and "every suppression says
why" are checked from the same file ``app.py``'s synth writes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from cfnlint.api import lint

from .conftest import Synthesized, synthesize

pytestmark = pytest.mark.infra


def plugin(synthesized: Synthesized, name: str) -> Any:
    reports = {report["pluginName"]: report for report in synthesized.report["pluginReports"]}
    assert name in reports, f"{name} did not run; plugins: {sorted(reports)}"
    return reports[name]


def open_violations(synthesized: Synthesized) -> list[str]:
    return [
        f"{report['pluginName']}: {violation['ruleName']} ({violation.get('severity')}) at "
        + ", ".join(c["constructPath"] for c in violation["violatingConstructs"])
        for report in synthesized.report["pluginReports"]
        for violation in report.get("violations", [])
    ]


def test_synth_succeeds_with_no_open_findings_of_any_severity(synthesized: Synthesized) -> None:
    assert open_violations(synthesized) == []
    assert synthesized.error is None


def test_aws_solutions_pack_ran_and_passed(synthesized: Synthesized) -> None:
    report = plugin(synthesized, "AwsSolutions")
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_every_suppression_carries_a_reason(synthesized: Synthesized) -> None:
    suppressed = [
        violation
        for report in synthesized.report["pluginReports"]
        for violation in report.get("suppressedViolations", [])
    ]
    assert suppressed, "expected the documented acknowledgments to be in use"
    for violation in suppressed:
        reason = str(violation.get("reason", ""))
        assert len(reason) > 30, f"{violation['ruleName']} suppressed without a real reason"


def test_dev_suppresses_the_cost_trade_offs_that_prod_does_not_make(
    dev: Synthesized, prod: Synthesized
) -> None:
    def suppressed_rules(synthesized: Synthesized) -> set[str]:
        return {
            violation["ruleName"]
            for violation in plugin(synthesized, "AwsSolutions").get("suppressedViolations", [])
        }

    assert {"AwsSolutions-RDS3", "AwsSolutions-RDS10"} <= suppressed_rules(dev)
    assert not {"AwsSolutions-RDS3", "AwsSolutions-RDS10"} & suppressed_rules(prod)


#: Every non-default branch at once: AUTH token, cluster mode, no replica, proxy, NAT,
#: MySQL 9.7 (the other LTS major RDS offers).
ALTERNATIVES = {
    "mysql.engine_version": "9.7",
    "valkey.auth": "password",
    "valkey.cluster_mode": "true",
    "valkey.shards": "2",
    "valkey.replicas_per_shard": "0",
    "valkey.multi_az": "false",
    "mysql.proxy": "true",
    "mysql.monitoring_interval_seconds": "30",
    "network.nat_gateways": "1",
    "functions.tracing": "false",
    "monitoring.alarm_email": "ops@example.com",
}


@pytest.fixture(scope="module")
def alternatives(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-alternatives"), "dev", **ALTERNATIVES)


def test_config_alternatives_are_nag_and_lint_clean(alternatives: Synthesized) -> None:
    assert open_violations(alternatives) == []
    errors = [
        f"{stack_id}: {match.rule.id} {match.message}"
        for stack_id, template in alternatives.templates.items()
        for match in lint(json.dumps(template), regions=[alternatives.config.region])
        if match.rule.id.startswith("E")
    ]
    assert errors == []
    data = alternatives.template("Data")
    data.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {"ClusterMode": "enabled", "NumNodeGroups": 2, "AuthToken": Match.any_value()},
    )
    alternatives.template("Monitoring").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )
    environment = alternatives.function_environment("lambda_app.handlers.api.handler")
    assert environment["VALKEY_AUTH"] == "password"
    assert environment["VALKEY_CLUSTER"] == "true"
    assert "ConfigurationEndPoint" in json.dumps(environment["VALKEY_HOST"])
    assert "VALKEY_PASSWORD_SECRET_ARN" in environment
