"""`seed --remote`: finds the migrator in the stacks and invokes it (moto, no Docker)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from moto import mock_aws

from scripts.ops.cli import main
from tests.integration.ops.moto_env import PREFIX, REGION, Knobs, build

pytestmark = pytest.mark.integration

SEED = ["seed", "--remote", "--env", "dev", "--prefix", PREFIX, "--region", REGION]


@pytest.fixture
def aws_without_docker(aws_credentials: None) -> Iterator[None]:
    """moto's Lambda answers invocations from a queue instead of running a container."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def queue_lambda_answer(answer: str) -> None:
    reply = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [answer], "region": REGION},
        timeout=5,
    )
    assert reply.status_code == 201


def test_remote_seed_invokes_the_migrator_found_by_its_handler(
    aws_without_docker: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build(Knobs(), closed_url)
    answer = {"ok": True, "applied": [1, 2], "seeded": {"products": 100, "users": 10}}
    queue_lambda_answer(json.dumps(answer))
    code = main([*SEED, "--products", "100", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out == {"where": ids["migrator"], "result": answer}


def test_a_migrator_that_reports_failure_is_one_line(
    aws_without_docker: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build(Knobs(), closed_url)
    queue_lambda_answer(json.dumps({"ok": False, "error": "MySQL at db:3306 unavailable"}))
    code = main(SEED)
    captured = capsys.readouterr()
    assert code == 1
    assert (
        captured.err == f"error: migrator {ids['migrator']} failed: MySQL at db:3306 unavailable\n"
    )


def test_the_payload_is_the_seed_action_with_the_chosen_sizes(
    aws_without_docker: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build(Knobs(), closed_url)
    # With nothing queued, moto's Lambda without Docker echoes the payload it received.
    code = main([*SEED, "--users", "5", "--seed", "7", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["result"] == {"action": "seed", "users": 5, "seed": 7}


def test_an_environment_that_is_not_deployed_is_one_line(
    aws_without_docker: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(SEED)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.startswith(f"error: no stacks found ({PREFIX}-network")
    assert captured.err.count("\n") == 1
