"""Preflight against moto (STS, SSM, CloudFormation) and the machine's real node and CDK CLI."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from scripts.ops.cli import main
from scripts.ops.preflight import BOOTSTRAP_PARAMETER, BOOTSTRAP_STACK
from tests.integration.ops.moto_env import REGION

pytestmark = pytest.mark.integration


def preflight(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["preflight", "--region", REGION, "--json"])
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in report["checks"]} | {"_account": report["account"]}


def test_a_bootstrapped_account_passes(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=BOOTSTRAP_PARAMETER, Value="27", Type="String"
    )
    code, checks = preflight(capsys)
    assert checks["credentials"]["ok"] and checks["region"]["ok"]
    assert checks["bootstrap"]["ok"]
    assert "bootstrap version 27" in checks["bootstrap"]["detail"]
    assert checks["_account"] == "123456789012"
    tools_ok = checks["node"]["ok"] and checks["cdk"]["ok"] and checks["python"]["ok"]
    assert code == (0 if tools_ok else 1)


def test_the_cdk_toolkit_stack_also_counts_as_bootstrapped(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=BOOTSTRAP_STACK, TemplateBody=json.dumps(template)
    )
    _, checks = preflight(capsys)
    assert checks["bootstrap"]["ok"]
    assert BOOTSTRAP_STACK in checks["bootstrap"]["detail"]


def test_an_account_that_is_not_bootstrapped_fails_with_the_fix(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = preflight(capsys)
    assert code == 1
    assert not checks["bootstrap"]["ok"]
    assert checks["bootstrap"]["detail"] == (
        f"aws://123456789012/{REGION} is not bootstrapped for CDK: "
        "run `python -m scripts.ops bootstrap`"
    )


def test_deploy_stops_before_cdk_with_one_line_per_failed_check(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["deploy", "--env", "dev", "--region", REGION, "--dry-run"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""  # the CDK command was never printed, let alone run
    lines = captured.err.splitlines()
    assert "preflight: bootstrap: aws://123456789012/us-east-1 is not bootstrapped" in lines[0]
    assert all(line.startswith("preflight: ") for line in lines)
    assert "Traceback" not in captured.err


def test_bootstrap_does_not_require_a_bootstrapped_account(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bootstrap", "--env", "dev", "--region", REGION, "--dry-run"])
    captured = capsys.readouterr()
    if code == 0:  # node and the pinned CDK CLI are installed here
        assert captured.out.split()[1:] == [
            "bootstrap",
            f"aws://123456789012/{REGION}",
            "-c",
            "env=dev",
        ]
    else:
        assert "preflight: bootstrap" not in captured.err
        assert captured.err.startswith(("preflight: node", "preflight: cdk"))


def test_missing_credentials_are_one_clear_line(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    code = main(["deploy", "--env", "dev", "--region", REGION, "--skip-preflight", "--dry-run"])
    assert code == 0  # skipping preflight needs no AWS at all
    capsys.readouterr()

    code = main(["deploy", "--env", "dev", "--region", REGION, "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1
    assert "preflight: credentials: no AWS credentials found" in err
    assert "Traceback" not in err

    code = main(["verify", "--env", "dev", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: no AWS credentials found")
    assert err.count("\n") == 1
