"""What a deploy needs of the account and the environment, checked before CDK starts.

Lambda functions and their reserved concurrency live in moto; moto 5.2.5 does not
implement GetAccountSettings, so the one number it would answer (the account's limit)
is given per test, and what is unreserved is derived from moto's functions as Lambda
derives it.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from scripts.ops import deploy_checks
from scripts.ops.cli import main
from scripts.ops.deploy_checks import CONCURRENCY_QUOTA, load_plan
from tests.integration.ops.moto_env import REGION

pytestmark = pytest.mark.integration


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _function(name: str, reserved: int) -> None:
    iam = boto3.client("iam", region_name=REGION)
    try:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(FunctionName=name, Runtime="python3.14", Role=role,
                           Handler="index.handler", Code={"ZipFile": _code()})
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


@pytest.fixture
def account_limit(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Set ``["limit"]``; unreserved = limit - every function's reservation in moto."""
    chosen = {"limit": 1000}

    def settings(client: Any) -> tuple[int, int]:
        reserved = 0
        for function in client.list_functions()["Functions"]:
            reply = client.get_function_concurrency(FunctionName=function["FunctionName"])
            reserved += int(reply.get("ReservedConcurrentExecutions") or 0)
        return chosen["limit"], chosen["limit"] - reserved

    monkeypatch.setattr(deploy_checks, "account_concurrency", settings)
    return chosen


def checks(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["preflight", "-e", "prod", "--region", REGION, "--json", *extra])
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in report["checks"]}


def test_prod_fits_an_account_with_room(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    _, found = checks(capsys, "--alarm-email", "ops@example.com")
    assert found["concurrency"]["ok"], found["concurrency"]
    assert "reserves 103 (api 100, migrate 2, warmer 1)" in found["concurrency"]["detail"]
    assert found["subscriber"] == {"name": "subscriber", "ok": True,
                                   "detail": "alarms go to ops@example.com"}


def test_an_account_under_203_is_told_what_to_ask_for(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    account_limit["limit"] = 200
    code, found = checks(capsys, "--alarm-email", "ops@example.com")
    assert code == 1
    detail = found["concurrency"]["detail"]
    assert not found["concurrency"]["ok"]
    assert "Ask for at least 203 concurrent executions" in detail
    assert CONCURRENCY_QUOTA in detail


def test_a_redeploy_counts_what_the_environment_already_reserves(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    account_limit["limit"] = 203
    prefix = load_plan("prod").prefix
    _function(f"{prefix}-api-ApiFunction1A2B", 100)
    _function(f"{prefix}-api-WarmerFunction3C4D", 1)
    _function(f"{prefix}-api-MigrateFunction5E6F", 2)
    _, found = checks(capsys, "--alarm-email", "ops@example.com")
    assert found["concurrency"]["ok"], found["concurrency"]["detail"]


def test_another_apps_reservations_leave_too_little(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    account_limit["limit"] = 300
    _function("someone-else", 150)
    _, found = checks(capsys, "--alarm-email", "ops@example.com")
    assert not found["concurrency"]["ok"]
    assert "Ask for at least 353" in found["concurrency"]["detail"]


def test_a_protected_environment_without_a_subscriber_fails_with_the_option_to_use(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, found = checks(capsys)
    assert code == 1
    assert not found["subscriber"]["ok"]
    assert "--alarm-email" in found["subscriber"]["detail"]


def test_the_bytecode_source_is_reported_before_any_bundling(
    aws: None, account_limit: dict[str, int], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.14, uv or docker here
    monkeypatch.setenv("DEBIAN_ROOT_DIR", str(tmp_path / "no-root"))
    _, found = checks(capsys, "--alarm-email", "ops@example.com")
    assert not found["bytecode"]["ok"]
    assert "python3.14" in found["bytecode"]["detail"]
    assert "allow_source_only_bundle" in found["bytecode"]["detail"]
