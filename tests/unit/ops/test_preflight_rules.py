"""Preflight's tool and region rules, and the CDK command lines the wrappers build."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scripts.ops import preflight
from scripts.ops.cdk import cdk_argv, cdk_environ

pytestmark = pytest.mark.unit

BASE = ["cdk"]


def test_python_version() -> None:
    assert preflight.check_python((3, 11, 9)).ok
    verdict = preflight.check_python((3, 10, 14))
    assert (verdict.ok, verdict.detail) == (False, "python 3.10.14 (need >= 3.11)")


def test_node_version() -> None:
    """Node 20 is end of life: the tools need 22 or 24 (make node pins 24)."""
    assert preflight.check_node("v24.21.0").ok
    assert preflight.check_node("v22.1.0").ok
    old = preflight.check_node("v20.20.2")
    assert (old.ok, old.detail) == (
        False, "node v20.20.2 (need >= 22: run `make node` for the pinned Node 24)")
    assert "run `make node`" in preflight.check_node(None).detail


def test_cdk_cli_version_must_be_the_pinned_one() -> None:
    assert preflight.check_cdk_cli("2.1148.1 (build 0ab1c2d)", "2.1148.1").ok
    wrong = preflight.check_cdk_cli("3.0.0 (build 1)", "2.1148.1")
    assert (wrong.ok, wrong.detail) == (
        False,
        "aws-cdk CLI 3.0.0, package.json pins 2.1148.1: run npm ci",
    )
    assert "run `make node`" in preflight.check_cdk_cli(None, "2.1148.1").detail


def test_region() -> None:
    assert preflight.check_region("eu-west-1").ok
    assert preflight.check_region(None).detail == (
        "no AWS region set: pass --region or set AWS_REGION"
    )


def test_pinned_cdk_version(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"aws-cdk": "^2.1.0"}}))
    assert preflight.pinned_cdk_version(tmp_path) == "2.1.0"
    assert preflight.pinned_cdk_version(tmp_path / "missing") is None
    assert preflight.pinned_cdk_version() == "2.1148.1"  # the repository's package.json


def test_tool_version_of_a_missing_tool_is_none() -> None:
    assert preflight.tool_version(["no-such-tool-here", "--version"]) is None


def test_report_failures_prints_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    findings = [
        preflight.Finding("region", False, "no region"),
        preflight.Finding("node", True, "v20"),
        preflight.Finding("bootstrap", False, "not bootstrapped"),
    ]
    assert not preflight.report_failures(findings)
    assert capsys.readouterr().err.splitlines() == [
        "preflight: region: no region",
        "preflight: bootstrap: not bootstrapped",
    ]


def test_cdk_command_lines() -> None:
    assert cdk_argv("deploy", env="dev", base=BASE) == [
        "cdk",
        "deploy",
        "--all",
        "-c",
        "env=dev",
        "--require-approval",
        "broadening",
    ]
    assert cdk_argv("destroy", env="prod", yes=True, base=BASE) == [
        "cdk",
        "destroy",
        "--all",
        "-c",
        "env=prod",
        "--force",
    ]
    assert cdk_argv("deploy", env="prod", overrides={"monitoring.alarm_email": "o@example.com"},
                    yes=True, base=BASE) == [
        "cdk", "deploy", "--all", "-c", "env=prod", "-c", "monitoring.alarm_email=o@example.com",
        "--require-approval", "never",
    ]
    assert cdk_argv(
        "bootstrap", env="dev", target="aws://1/eu-west-1", profile="ops", base=BASE
    ) == ["cdk", "bootstrap", "aws://1/eu-west-1", "-c", "env=dev", "--profile", "ops"]


def test_cdk_environment_sets_the_region() -> None:
    environ = cdk_environ("eu-west-1")
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert not any(name.startswith("JSII_SILENCE") for name in environ
                   if name not in os.environ)  # nothing silenced
    from scripts.project_node import NODE_BIN

    if (NODE_BIN / "node").exists():
        assert environ["PATH"].split(os.pathsep)[0] == str(NODE_BIN)
