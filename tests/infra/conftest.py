"""Shared fixtures for the infra tests: cdk.json context, configs, in-process synths.

Why session-scoped synths: synthesizing the four stacks of one environment takes
seconds (jsii + cdk-nag + validation), so each environment is synthesized once and every
stack-level test (assertions, cdk-nag, cfn-lint) reads the same cloud assembly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, assertions
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import AppConfig, load_config
from infra.constructs.mysql_database import client_port
from infra.constructs.network import Network
from infra.deployment import PROJECT_ROOT, Deployment, build
from infra.nag import add_nag_checks
from infra.stacks.base import ConfiguredStack

CDK_JSON = PROJECT_ROOT / "cdk.json"


#: Prod refuses to synth without an alarm subscriber; the tests give it one, as
#: ``make synth`` does.
PROD_SUBSCRIBER = {"monitoring.alarm_email": "alarms@example.com"}


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """The context ``cdk synth`` sees: cdk.json's, plus ``-c`` style overrides."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    subscriber = PROD_SUBSCRIBER if overrides.get("env") == "prod" else {}
    return {**context, "bundle": "false", **subscriber, **overrides}


def config_for(env: str = "dev", **overrides: Any) -> AppConfig:
    return load_config(cdk_context(env=env, **overrides))


def with_section(config: AppConfig, section: str, **changes: Any) -> AppConfig:
    """``config`` with some fields of one section replaced (construct variants)."""
    changed = getattr(config, section).model_copy(update=changes)
    return config.model_copy(update={section: changed})


@dataclass
class Synthesized:
    """One environment's app, synthesized with cdk-nag the way ``app.py`` does it."""

    config: AppConfig
    deployment: Deployment
    outdir: Path
    templates: dict[str, dict[str, Any]]
    report: dict[str, Any]
    error: str | None

    def template(self, stack_id: str) -> assertions.Template:
        return assertions.Template.from_json(self.templates[stack_id])

    def function_environment(self, handler: str) -> dict[str, Any]:
        """The environment variables of the Api stack's function with this handler."""
        functions = self.template("Api").find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": handler}}
        )
        (function,) = functions.values()
        return dict(function["Properties"]["Environment"]["Variables"])


def synthesize(outdir: Path, env: str, **overrides: Any) -> Synthesized:
    app = App(outdir=str(outdir), context=cdk_context(env=env, **overrides))
    config = load_config(app.node.get_all_context())
    deployment = build(app, config, bundle=False)
    add_nag_checks(app)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # findings fail the synth; the report still gets written
        error = str(exc)
    templates = {
        stack_id: json.loads((outdir / f"{stack_id}.template.json").read_text())
        for stack_id in ("Network", "Data", "Api", "Monitoring")
    }
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesized(config, deployment, outdir, templates, report, error)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-dev"), "dev")


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk-prod"), "prod")


@pytest.fixture(params=["dev", "prod"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each environment in turn, for checks that hold in both."""
    result: Synthesized = request.getfixturevalue(request.param)
    return result


@dataclass
class ConstructStack:
    """A one-stack app with the network in place, for testing a construct alone."""

    app: App
    stack: ConfiguredStack
    network: Network
    config: AppConfig

    def template(self) -> assertions.Template:
        return assertions.Template.from_stack(self.stack)


@pytest.fixture
def construct_stack(tmp_path: Path) -> Callable[..., ConstructStack]:
    def make(config: AppConfig | None = None) -> ConstructStack:
        config = config or config_for("dev")
        app = App(outdir=str(tmp_path / "cdk.out"), context=cdk_context())
        stack = ConfiguredStack(app, "Test", config=config)
        network = Network(
            stack,
            "Network",
            config=config.network,
            cache_port=config.valkey.port,
            database_port=client_port(config.mysql),
            removal_policy=config.removal_policy,
            secret_tags=config.tags,
        )
        return ConstructStack(app, stack, network, config)

    return make


def inline_function(scope: Construct, construct_id: str, handler: str) -> lambda_.Function:
    """A stand-in function for constructs that only need something to invoke."""
    return lambda_.Function(
        scope,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler=handler,
        code=lambda_.Code.from_inline("def handler(event, context): return {}"),
    )


def properties_of(
    template: assertions.Template, resource_type: str, logical_id_prefix: str
) -> dict[str, Any]:
    """Properties of the one resource of this type whose logical id starts with the prefix
    (the construct path), for checks other resources of the same type could satisfy."""
    (properties,) = [
        resource["Properties"]
        for logical_id, resource in template.find_resources(resource_type).items()
        if logical_id.startswith(logical_id_prefix)
    ]
    return dict(properties)
