"""OperationsAlarms construct: alarms on cache, DB, functions and API, all to one topic."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from .conftest import Synthesized

pytestmark = pytest.mark.infra

ALARMS = (
    "cache-engine-cpu",
    "cache-evictions",
    "cache-connections",
    "cache-replication-lag",
    "app-hit-ratio",
    "db-cpu",
    "db-free-storage",
    "db-proxy-connection-errors",
    "api-errors",
    "api-throttles",
    "warmer-errors",
    "warmer-throttles",
    "migrate-errors",
    "migrate-throttles",
    "api-5xx",
    "api-p99-latency",
)


def test_no_alarm_is_on_memory_use_a_full_cache_is_healthy(synthesized: Synthesized) -> None:
    """allkeys-lfu runs full by design: DatabaseMemoryUsagePercentage > 90 would always be
    in ALARM. Evictions per period and the app's hit ratio say when it is too small."""
    import json

    alarms = synthesized.template("Monitoring").find_resources("AWS::CloudWatch::Alarm")
    assert "DatabaseMemoryUsagePercentage" not in json.dumps(alarms)


def _hit_ratio_expression(dev: Synthesized) -> str:
    alarms = dev.template("Monitoring").find_resources("AWS::CloudWatch::Alarm", {
        "Properties": {"AlarmName": "valkey-caching-dev-app-hit-ratio"}})
    (alarm,) = alarms.values()
    props = alarm["Properties"]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("LessThanThreshold", 80)
    (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
    return str(expression)


@pytest.mark.parametrize(("hits", "misses", "alarms"), [
    ({}, {1: 500, 2: 400}, True),            # every read missed: EMF wrote no hits at all
    ({1: 100}, {1: 400}, True),              # 20% hit ratio
    ({1: 450}, {1: 50}, False),              # 90%
    ({1: 10}, {1: 20}, False),               # a quiet period says nothing
    ({}, {}, False),                         # no traffic: no data, not breaching
])
def test_the_hit_ratio_alarm_reads_missing_counts_as_zero(dev: Synthesized, hits, misses,
                                                          alarms) -> None:
    """Evaluates the synthesized expression as CloudWatch does, datapoint by datapoint."""
    from tests.infra.metric_math import evaluate

    values = evaluate(_hit_ratio_expression(dev), {"hits": hits, "misses": misses})
    assert any(value < 80 for value in values.values()) == alarms, values


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(synthesized: Synthesized) -> None:
    template = synthesized.template("Monitoring")
    topic = {"Ref": Match.string_like_regexp("AlarmsTopic")}
    for name in ALARMS:
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "AlarmName": f"{synthesized.config.prefix}-{name}",
                "AlarmActions": [topic],
                "OKActions": [topic],
                "TreatMissingData": "notBreaching",
            },
        )
    template.resource_count_is("AWS::CloudWatch::Alarm", len(ALARMS))


def test_cache_alarms_take_the_maximum_over_nodes(dev: Synthesized) -> None:
    dev.template("Monitoring").has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "valkey-caching-dev-cache-engine-cpu",
            "Threshold": 80,
            "Metrics": Match.array_with(
                [
                    Match.object_like({"Expression": "MAX([m0,m1])", "ReturnData": True}),
                    Match.object_like(
                        {
                            "Id": "m0",
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": {
                                        "Namespace": "AWS/ElastiCache",
                                        "MetricName": "EngineCPUUtilization",
                                        "Dimensions": [
                                            {
                                                "Name": "CacheClusterId",
                                                "Value": "valkey-caching-dev-001",
                                            }
                                        ],
                                    }
                                }
                            ),
                        }
                    ),
                ]
            ),
        },
    )


def test_cloudwatch_may_publish_to_the_topic_and_use_its_key_for_this_account_only(
    synthesized: Synthesized,
) -> None:
    """With enforce_ssl the topic policy holds a Deny only: without these two grants an
    alarm's notification never leaves CloudWatch."""
    template = synthesized.template("Monitoring")
    scoped = {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", Match.array_with([
            Match.string_like_regexp(":cloudwatch:"),
            Match.string_like_regexp(":alarm:\\*$"),
        ])]}},
    }
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("AlarmsTopicKey"), "Arn"]}},
    )
    template.has_resource_properties("AWS::KMS::Key", {
        "EnableKeyRotation": True,
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Condition": scoped,
        })])},
    })
    template.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {
        "Statement": Match.array_with([
            Match.object_like({
                "Effect": "Deny",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }),
            Match.object_like({
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Resource": {"Ref": Match.string_like_regexp("AlarmsTopic")},
                "Condition": scoped,
            }),
        ])
    }})


def test_a_protected_environment_refuses_to_synth_without_a_subscriber() -> None:
    from infra.config import ConfigError, load_config

    from .conftest import cdk_context

    context = cdk_context(env="prod")
    del context["monitoring.alarm_email"]
    with pytest.raises(ConfigError, match=r"monitoring\.alarm_email"):
        load_config(context)
    allowed = load_config({**context, "monitoring.allow_no_subscriber": "true"})
    assert allowed.monitoring.alarm_email is None


def test_prod_subscribes_its_address(prod: Synthesized) -> None:
    prod.template("Monitoring").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "alarms@example.com"}
    )
