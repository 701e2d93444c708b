"""Builds a deployed environment inside moto: what `verify` reads, with one knob per rule.

The shape follows what the CDK app deploys: four stacks named <prefix>-<part>, a Valkey
replication group with a custom parameter group, a private encrypted MySQL instance
whose parameter group requires TLS, the project's functions in the VPC, security groups
that admit only the functions, and alarms. Where moto's CloudFormation can create a
resource (RDS instance, Lambda functions, IAM role) the stack creates it, so `verify`
finds it through ListStackResources; the replication group and alarms moto's
CloudFormation cannot create are made with their APIs and found through the stack
outputs and alarm dimensions, the fallback paths `verify` also takes in real accounts.

moto 5.2.5 gaps (the checks that read through them are reported as ERROR by verify):
- ElastiCache cache parameter groups (Create/Describe*CacheParameter*) are not
  implemented, so `cache.parameter_family` and `cache.maxmemory_policy` cannot be read;
- DescribeCacheClusters does not return SecurityGroups, so `network.cache_sg` cannot be;
- a replication group's member clusters are not describable, so the member node is
  created as a cache cluster of the group under the member's id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from lambda_app.data.migrations import MIGRATIONS

REGION = "us-east-1"
PREFIX = "moto-dev"
STACKS = {part: f"{PREFIX}-{part.lower()}" for part in ("Network", "Data", "Api", "Monitoring")}
CACHE_PORT = 6379
DB_PORT = 3306

#: Checks whose AWS calls moto answers, so they must PASS on a correct environment.
EMULATED = (
    "cache.engine",
    "cache.version",
    "cache.multi_az",
    "cache.tls",
    "cache.at_rest",
    "cache.auth",
    "db.engine",
    "db.private",
    "db.encrypted",
    "db.tls",
    "functions.vpc",
    "network.db_sg",
    "alarms.present",
    "alarms.subscriber",
    "metrics.flowing",
    "migration.current",
)
#: Checks that read through APIs moto lacks (see the module docstring): ERROR here.
NOT_EMULATED = ("cache.parameter_family", "cache.maxmemory_policy", "network.cache_sg")
#: No API server runs in these tests: the checks that call it must FAIL, not crash.
API_CHECKS = ("api.health", "api.auth")


@dataclass(frozen=True)
class Knobs:
    """One field per rule; the defaults are the correct setting."""

    engine: str = "valkey"
    engine_version: str = "8.0"
    multi_az: bool = True
    cache_tls: bool = True
    cache_at_rest: bool = True
    cache_user_groups: bool = True
    db_public: bool = False
    db_encrypted: bool = True
    db_require_tls: bool = True
    db_open_to_world: bool = False
    functions_in_vpc: bool = True
    cache_alarm: bool = True
    subscriber: bool = True
    metrics_emitted: bool = True
    schema_version: int = max(m.version for m in MIGRATIONS)


def _stack(cf: Any, part: str, resources: dict[str, Any], outputs: dict[str, Any]) -> None:
    template = {"Resources": resources, "Outputs": outputs}
    cf.create_stack(
        StackName=STACKS[part], TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )


def _function(name: str, handler: str, role: str, vpc: dict[str, Any] | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Handler": handler,
        "Runtime": "python3.12",
        "Role": {"Fn::GetAtt": [role, "Arn"]},
        "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
        "Environment": {
            "Variables": {"VALKEY_AUTH": "iam", "CACHE_MAXMEMORY_POLICY": "allkeys-lfu"}
        },
    }
    if vpc is not None:
        properties["VpcConfig"] = vpc
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


#: What the dashboard graphs of the app's own metrics, as the stack writes it.
APP_METRICS = (("CacheHits", "product"), ("CacheMisses", "product"))


def _monitoring_facts(cf: Any, cw: Any, knobs: Knobs) -> None:
    """The alarm topic's subscriber, the dashboard, and the app's datapoints (as
    ``ops smoke`` would have made them)."""
    sns = boto3.client("sns", region_name=REGION)
    topic = next(
        r["PhysicalResourceId"]
        for r in cf.list_stack_resources(StackName=STACKS["Monitoring"])["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::SNS::Topic"
    )
    if knobs.subscriber:
        sns.subscribe(TopicArn=topic, Protocol="sqs",
                      Endpoint=f"arn:aws:sqs:{REGION}:123456789012:ops-alarms")
    metrics = [["ValkeyCaching", name, "data_class", data_class, "service", "valkey-caching"]
               for name, data_class in APP_METRICS]
    metrics.append(["AWS/Lambda", "Errors", "FunctionName", "x"])
    body = {"widgets": [{"type": "metric", "properties": {"metrics": metrics}}]}
    cw.put_dashboard(DashboardName=f"{PREFIX}-dashboard", DashboardBody=json.dumps(body))
    if knobs.metrics_emitted:
        for name, data_class in APP_METRICS:
            cw.put_metric_data(Namespace="ValkeyCaching", MetricData=[{
                "MetricName": name, "Value": 3, "Unit": "Count",
                "Dimensions": [{"Name": "data_class", "Value": data_class},
                               {"Name": "service", "Value": "valkey-caching"}],
            }])


def build(knobs: Knobs, api_url: str) -> dict[str, str]:
    """Create the environment in the active moto mock; returns the main resource ids."""
    ec2 = boto3.client("ec2", region_name=REGION)
    cf = boto3.client("cloudformation", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"][
        "SubnetId"
    ]

    def group(name: str) -> str:
        return str(
            ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        )

    fn_sg, cache_sg, db_sg = group("functions"), group("cache"), group("database")
    for target, port in ((cache_sg, CACHE_PORT), (db_sg, DB_PORT)):
        ec2.authorize_security_group_ingress(
            GroupId=target,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": port,
                    "ToPort": port,
                    "UserIdGroupPairs": [{"GroupId": fn_sg}],
                }
            ],
        )
    if knobs.db_open_to_world:
        ec2.authorize_security_group_ingress(
            GroupId=db_sg,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": DB_PORT,
                    "ToPort": DB_PORT,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
    _stack(
        cf,
        "Network",
        {
            "VpcParam": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/{PREFIX}/vpc", "Type": "String", "Value": vpc},
            }
        },
        {"VpcId": {"Value": vpc}},
    )

    # Data: the cache through its API (moto's CloudFormation lacks ElastiCache), the DB
    # through the stack.
    cache = boto3.client("elasticache", region_name=REGION)
    cache.create_cache_subnet_group(
        CacheSubnetGroupName="cache-subnets",
        CacheSubnetGroupDescription="cache",
        SubnetIds=subnets,
    )
    rg_id = "moto-dev-cache"
    options: dict[str, Any] = {}
    if knobs.cache_user_groups:
        options["UserGroupIds"] = ["moto-dev-users"]
    rg = cache.create_replication_group(
        ReplicationGroupId=rg_id,
        ReplicationGroupDescription="cache",
        Engine=knobs.engine,
        EngineVersion=knobs.engine_version,
        CacheNodeType="cache.t4g.micro",
        CacheParameterGroupName="moto-dev-valkey8",
        CacheSubnetGroupName="cache-subnets",
        SecurityGroupIds=[cache_sg],
        ReplicasPerNodeGroup=1,
        MultiAZEnabled=knobs.multi_az,
        AutomaticFailoverEnabled=knobs.multi_az,
        TransitEncryptionEnabled=knobs.cache_tls,
        AtRestEncryptionEnabled=knobs.cache_at_rest,
        **options,
    )["ReplicationGroup"]
    member = rg["MemberClusters"][0]
    cache.create_cache_cluster(
        CacheClusterId=member,
        ReplicationGroupId=rg_id,
        Engine=knobs.engine,
        EngineVersion=knobs.engine_version,
        CacheNodeType="cache.t4g.micro",
        CacheParameterGroupName="moto-dev-valkey8",
        SecurityGroupIds=[cache_sg],
        TransitEncryptionEnabled=knobs.cache_tls,
    )
    endpoint = rg["NodeGroups"][0]["PrimaryEndpoint"]["Address"]

    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_parameter_group(
        DBParameterGroupName="moto-dev-mysql", DBParameterGroupFamily="mysql8.4", Description="db"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="moto-dev-mysql",
        Parameters=[
            {
                "ParameterName": "require_secure_transport",
                "ParameterValue": "1" if knobs.db_require_tls else "0",
                "ApplyMethod": "immediate",
            }
        ],
    )
    _stack(
        cf,
        "Data",
        {
            "Subnets": {
                "Type": "AWS::RDS::DBSubnetGroup",
                "Properties": {"DBSubnetGroupDescription": "db", "SubnetIds": subnets},
            },
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "Engine": "mysql",
                    "EngineVersion": "8.4.3",
                    "DBInstanceClass": "db.t4g.micro",
                    "AllocatedStorage": "20",
                    "MasterUsername": "admin",
                    "MasterUserPassword": "not-used-1",
                    "PubliclyAccessible": knobs.db_public,
                    "StorageEncrypted": knobs.db_encrypted,
                    "DBParameterGroupName": "moto-dev-mysql",
                    "DBSubnetGroupName": {"Ref": "Subnets"},
                    # moto reads VpcSecurityGroupIds where CloudFormation spells VPCSecurityGroups
                    "VPCSecurityGroups": [db_sg],
                    "VpcSecurityGroupIds": [db_sg],
                },
            },
        },
        {"CacheEndpoint": {"Value": f"{endpoint}:{CACHE_PORT}"}},
    )

    # Api: the three project functions plus a CDK-style helper outside the VPC, which
    # verify must ignore (its handler is not lambda_app.handlers.*).
    in_vpc = {"SubnetIds": subnets, "SecurityGroupIds": [fn_sg]}
    warmer_vpc = (
        in_vpc
        if knobs.functions_in_vpc
        else {"SubnetIds": [other_subnet], "SecurityGroupIds": [fn_sg]}
    )
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
        },
    }
    _stack(
        cf,
        "Api",
        {
            "Role": role,
            "ApiFunction": _function("api", "lambda_app.handlers.api.handler", "Role", in_vpc),
            "WarmerFunction": _function(
                "warmer", "lambda_app.handlers.warmer.handler", "Role", warmer_vpc
            ),
            "MigrateFunction": _function(
                "migrate", "lambda_app.handlers.migrate.handler", "Role", in_vpc
            ),
            "LogRetentionHelper": _function("helper", "index.handler", "Role", None),
        },
        {"ApiUrl": {"Value": api_url}, "SchemaVersion": {"Value": str(knobs.schema_version)}},
    )

    resources = cf.list_stack_resources(StackName=STACKS["Api"])["StackResourceSummaries"]
    functions = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    db_id = next(
        r["PhysicalResourceId"]
        for r in cf.list_stack_resources(StackName=STACKS["Data"])["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::RDS::DBInstance"
    )

    # Monitoring: alarms by API (moto's CloudFormation lacks CloudWatch alarms), plus one
    # on somebody else's function that verify must not count.
    cw = boto3.client("cloudwatch", region_name=REGION)
    alarms = [
        ("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db_id),
        ("AWS/Lambda", "Errors", "FunctionName", functions["ApiFunction"]),
        ("AWS/ElastiCache", "Errors", "FunctionName", "someone-elses-function"),
    ]
    if knobs.cache_alarm:
        alarms.append(("AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", member))
    for namespace, metric, dimension, value in alarms:
        cw.put_metric_alarm(
            AlarmName=f"{PREFIX}-{metric}-{value}",
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": value}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    _stack(
        cf,
        "Monitoring",
        {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
        {"DashboardName": {"Value": f"{PREFIX}-dashboard"}},
    )
    _monitoring_facts(cf, cw, knobs)
    return {
        "vpc": vpc,
        "replication_group": rg_id,
        "db": db_id,
        "function_sg": fn_sg,
        "migrator": functions["MigrateFunction"],
    }
