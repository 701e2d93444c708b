"""The four stacks of each environment, wired the way app.py wires them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.constructs.migration import RESOURCE_TYPE

from .conftest import Synthesized

pytestmark = pytest.mark.infra


def stack_artifacts(synthesized: Synthesized) -> dict[str, Any]:
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
    return {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_stack_names_order_and_termination_protection(dev: Synthesized, prod: Synthesized) -> None:
    for synthesized, protected in ((dev, False), (prod, True)):
        artifacts = stack_artifacts(synthesized)
        env = synthesized.config.env_name
        assert {a["properties"]["stackName"] for a in artifacts.values()} == {
            f"valkey-caching-{env}-{part}" for part in ("network", "data", "api", "monitoring")
        }
        assert "Network" in artifacts["Data"]["dependencies"]
        assert {"Network", "Data"} <= set(artifacts["Api"]["dependencies"])
        # a protected environment protects every stack, the Network one included
        for stack_id in ("Network", "Data", "Api", "Monitoring"):
            properties = artifacts[stack_id]["properties"]
            assert properties.get("terminationProtection", False) is protected, stack_id
        assert artifacts["Data"]["environment"] == "aws://unknown-account/us-east-1"


def test_outputs_name_what_a_user_needs(synthesized: Synthesized) -> None:
    outputs = {
        stack_id: set(synthesized.templates[stack_id].get("Outputs", {}))
        for stack_id in ("Data", "Api", "Monitoring")
    }
    assert {"CacheEndpoint", "CachePort", "DatabaseEndpoint", "DatabaseSecretArn"} <= outputs[
        "Data"
    ]
    assert "ApiUrl" in outputs["Api"]
    assert "DashboardName" in outputs["Monitoring"]
    synthesized.template("Monitoring").has_output(
        "DashboardName", {"Value": synthesized.config.prefix}
    )


def test_stateful_resources_snapshot_in_prod_and_go_away_in_dev(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synthesized, policy in ((dev, "Delete"), (prod, "Snapshot")):
        template = synthesized.template("Data")
        template.has_resource(
            "AWS::ElastiCache::ReplicationGroup",
            {"DeletionPolicy": policy, "UpdateReplacePolicy": policy},
        )
        template.has_resource("AWS::RDS::DBInstance", {"DeletionPolicy": policy})


def test_functions_get_the_settings_contract(dev: Synthesized, prod: Synthesized) -> None:
    for synthesized in (dev, prod):
        environment = synthesized.function_environment("lambda_app.handlers.api.handler")
        assert environment["VALKEY_AUTH"] == "iam"
        assert environment["VALKEY_TLS"] == "true"
        assert environment["VALKEY_CLUSTER"] == "false"
        assert environment["VALKEY_USERNAME"] == f"{synthesized.config.prefix}-app"
        assert environment["VALKEY_REPLICATION_GROUP_ID"] == synthesized.config.prefix
        assert environment["DB_TLS"] == "true"
        assert environment["CACHE_MAXMEMORY_POLICY"] == "allkeys-lfu"
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "ValkeyCaching"
        for name in ("VALKEY_HOST", "DB_HOST", "DB_SECRET_ARN"):
            assert "Fn::ImportValue" in environment[name]  # the data stack's export
        # Through RDS Proxy (both envs by default): public roots, no CA bundle needed.
        assert "DB_CA_FILE" not in environment


def test_three_functions_share_one_code_asset(synthesized: Synthesized) -> None:
    functions = synthesized.template("Api").find_resources("AWS::Lambda::Function")
    ours = {
        f["Properties"]["Handler"]: f["Properties"]["Code"]["S3Key"]
        for f in functions.values()
        if f["Properties"].get("Handler", "").startswith("lambda_app.")
    }
    assert set(ours) == {
        "lambda_app.handlers.api.handler",
        "lambda_app.handlers.warmer.handler",
        "lambda_app.handlers.migrate.handler",
    }
    assert len(set(ours.values())) == 1


def test_api_and_warmer_may_connect_to_the_cache_and_read_the_db_secret(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template("Api")
    prefix = synthesized.config.prefix
    for role in ("ApiFunctionRole", "WarmerFunctionRole"):
        template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "Roles": [{"Ref": Match.string_like_regexp(role)}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Action": "elasticache:Connect",
                                    "Resource": [
                                        {
                                            "Fn::Join": [
                                                "",
                                                Match.array_with([f":replicationgroup:{prefix}"]),
                                            ]
                                        },
                                        {
                                            "Fn::Join": [
                                                "",
                                                Match.array_with([f":user:{prefix}-app"]),
                                            ]
                                        },
                                    ],
                                }
                            ),
                            Match.object_like(
                                {
                                    "Action": [
                                        "secretsmanager:DescribeSecret",
                                        "secretsmanager:GetSecretValue",
                                    ],
                                    "Resource": Match.object_like(
                                        {"Fn::ImportValue": Match.any_value()}
                                    ),
                                }
                            ),
                        ]
                    )
                },
            },
        )


def test_migrate_function_reads_the_db_secret_but_has_no_cache_access(
    synthesized: Synthesized,
) -> None:
    policies = synthesized.template("Api").find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("MigrateFunctionRole")}]}},
    )
    (policy,) = policies.values()
    actions = json.dumps(policy["Properties"]["PolicyDocument"])
    assert "secretsmanager:GetSecretValue" in actions
    assert "elasticache:Connect" not in actions


def test_warmer_runs_on_the_configured_schedule(dev: Synthesized, prod: Synthesized) -> None:
    for synthesized, minutes in ((dev, 10), (prod, 5)):
        synthesized.template("Api").has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": f"rate({minutes} minutes)",
                "State": "ENABLED",
                "Targets": [
                    Match.object_like(
                        {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("WarmerFunction"), "Arn"]}}
                    )
                ],
            },
        )


def test_a_failed_warm_is_not_retried_by_lambda_nor_kept_past_the_next_tick(
    dev: Synthesized, prod: Synthesized
) -> None:
    """The rule's own retries are 0; Lambda's asynchronous retries (2, for up to 6 h)
    would still run a failing warmer three times per tick without its own config."""
    for synthesized, minutes in ((dev, 10), (prod, 5)):
        template = synthesized.template("Api")
        configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
        (config,) = [c["Properties"] for c in configs.values()
                     if "Warmer" in json.dumps(c["Properties"]["FunctionName"])]
        assert config["MaximumRetryAttempts"] == 0
        assert config["MaximumEventAgeInSeconds"] == minutes * 60


def test_the_migrator_knows_the_code_version_its_resource_carries(
    synthesized: Synthesized,
) -> None:
    """One value, two sides: the resource's CodeVersion and the function's own variable
    (a rollback's Update carries another version and is answered without migrating)."""
    from lambda_app.handlers.migration_request import CODE_VERSION_ENV, CODE_VERSION_PROPERTY

    environment = synthesized.function_environment("lambda_app.handlers.migrate.handler")
    resource = next(iter(synthesized.template("Api").find_resources(RESOURCE_TYPE).values()))
    assert environment[CODE_VERSION_ENV] == resource["Properties"][CODE_VERSION_PROPERTY]
    assert environment[CODE_VERSION_ENV] == synthesized.deployment.api.code.version
    timeout = synthesized.config.functions.migrate_timeout_seconds
    assert timeout < int(resource["Properties"]["ServiceTimeout"]) <= 3600


def test_migration_runs_on_deploy_when_the_code_or_the_database_changes(
    synthesized: Synthesized,
) -> None:
    template = synthesized.template("Api")
    template.has_resource_properties(
        RESOURCE_TYPE,
        {
            "CodeVersion": synthesized.deployment.api.code.version,
            "DatabaseHost": {"Fn::ImportValue": Match.any_value()},
        },
    )
    template.has_resource(
        "AWS::Events::Rule",
        {"DependsOn": Match.array_with([Match.string_like_regexp("^Migration")])},
    )


def test_snapstart_is_a_prod_choice_and_the_api_is_invoked_through_its_alias(
    dev: Synthesized, prod: Synthesized
) -> None:
    """SnapStart snapshots published versions only: with it on, API Gateway must call the
    ``live`` alias, or every request would run the unpublished $LATEST without it."""
    import json

    def snapstart(synthesized: Synthesized) -> list[object]:
        functions = synthesized.template("Api").find_resources("AWS::Lambda::Function")
        return [f["Properties"].get("SnapStart") for f in functions.values()]

    assert not any(snapstart(dev))
    assert snapstart(prod).count({"ApplyOn": "PublishedVersions"}) == 1
    template = prod.template("Api")
    template.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    (alias_id,) = template.find_resources("AWS::Lambda::Alias")
    integrations = template.find_resources("AWS::ApiGatewayV2::Integration")
    assert all(alias_id in json.dumps(i["Properties"]["IntegrationUri"])
               for i in integrations.values())


def test_prod_keeps_every_log_group_and_dev_cleans_up(dev: Synthesized, prod: Synthesized) -> None:
    """The logs of an incident are read after the stack is gone: prod retains the
    function, access, provider, flow and RDS log groups; a throwaway dev deletes them."""
    for synthesized, policy in ((prod, "Retain"), (dev, "Delete")):
        groups = {
            logical: resource.get("DeletionPolicy")
            for template in synthesized.templates.values()
            for logical, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Logs::LogGroup"
        }
        assert len(groups) >= 8
        assert set(groups.values()) == {policy}, groups


def test_new_code_serves_only_after_its_migration(dev: Synthesized) -> None:
    """The API and warmer functions (and the schedule) depend on the migration custom
    resource: CloudFormation updates them only once the schema they expect is in place."""
    resources = dev.template("Api").to_json()["Resources"]
    (migration,) = [k for k, r in resources.items() if r["Type"] == "Custom::DatabaseMigration"]
    dependents = {k for k, r in resources.items() if migration in (r.get("DependsOn") or [])}
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert any(k.startswith("ApiFunction") for k in dependents & functions)
    assert any(k.startswith("WarmerFunction") for k in dependents & functions)
    assert not any(k.startswith("MigrateFunction") for k in dependents)
    assert any(resources[k]["Type"] == "AWS::Events::Rule" for k in dependents)


def _intrinsics(node: object, name: str) -> list[object]:
    """Every argument of intrinsic ``name`` anywhere under ``node``."""
    if isinstance(node, dict):
        found = [node[name]] if name in node else []
        return found + [hit for value in node.values() for hit in _intrinsics(value, name)]
    if isinstance(node, list):
        return [hit for value in node for hit in _intrinsics(value, name)]
    return []


def test_cross_stack_values_are_strong_references_to_exports_that_exist(
    dev: Synthesized, prod: Synthesized,
) -> None:
    """A consumer reads a producer's value through Fn::ImportValue, which CloudFormation
    keeps current (it refuses a producer update that would change a value in use),
    never through Fn::GetStackOutput, which is read once and goes stale."""
    for synthesized in (dev, prod):
        exported = {
            output["Export"]["Name"]
            for template in synthesized.templates.values()
            for output in template.get("Outputs", {}).values() if "Export" in output
        }
        imported: set[object] = set()
        for stack_id, template in synthesized.templates.items():
            assert _intrinsics(template, "Fn::GetStackOutput") == [], stack_id
            imported.update(str(name) for name in _intrinsics(template, "Fn::ImportValue"))
        assert imported, "the stacks share values, so something is imported"
        assert imported <= exported


def _references(node: object) -> set[str]:
    """Logical ids a resource's properties point at (Ref and Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        attribute = node.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            found.add(attribute[0])
        for value in node.values():
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def test_what_a_delete_keeps_uses_only_what_it_also_keeps(
    dev: Synthesized, prod: Synthesized
) -> None:
    """A kept resource whose security group, subnet group or key is deleted makes the
    stack delete fail (DELETE_FAILED); prod keeps keys, secrets and logs."""
    kept_somewhere = False
    for synthesized in (dev, prod):
        for stack_id, template in synthesized.templates.items():
            resources = template.get("Resources", {})
            for logical_id, resource in resources.items():
                if resource.get("DeletionPolicy") != "Retain":
                    continue
                kept_somewhere = True
                for target in _references(resource.get("Properties", {})) & set(resources):
                    policy = resources[target].get("DeletionPolicy", "Delete")
                    assert policy == "Retain", (stack_id, logical_id, target, policy)
    assert kept_somewhere


def test_retain_is_not_offered_because_its_delete_cannot_finish() -> None:
    from lambda_app.config_types import ConfigError

    from .conftest import config_for

    with pytest.raises(ConfigError) as refused:
        config_for("prod", removal_policy="retain")
    assert "snapshot" in str(refused.value) and "retain is not offered" in str(refused.value)


def test_every_function_logs_to_a_log_group_with_retention(
    dev: Synthesized, prod: Synthesized
) -> None:
    """Ours and the ones aws-cdk-lib adds (the default security group's, the migration
    provider's): a function without one gets a Lambda-made group that never expires."""
    for synthesized in (dev, prod):
        for stack_id, template in synthesized.templates.items():
            resources = template.get("Resources", {})
            for logical_id, resource in resources.items():
                if resource["Type"] != "AWS::Lambda::Function":
                    continue
                target = resource["Properties"].get("LoggingConfig", {}).get("LogGroup")
                assert isinstance(target, dict) and "Ref" in target, (stack_id, logical_id)
                group = resources[target["Ref"]]
                assert group["Type"] == "AWS::Logs::LogGroup"
                assert group["Properties"].get("RetentionInDays"), (stack_id, logical_id)
