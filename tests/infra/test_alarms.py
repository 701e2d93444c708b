"""OperationsAlarms construct: alarms on cache, DB, functions and API, all to one topic."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from .conftest import Synthesized

pytestmark = pytest.mark.infra

ALARMS = (
    "cache-engine-cpu",
    "cache-memory",
    "cache-replication-lag",
    "db-cpu",
    "db-free-storage",
    "api-errors",
    "api-throttles",
    "warmer-errors",
    "warmer-throttles",
    "migrate-errors",
    "migrate-throttles",
    "api-5xx",
)


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


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_requires_tls(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template("Monitoring")
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("AlarmsTopicKey"), "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
