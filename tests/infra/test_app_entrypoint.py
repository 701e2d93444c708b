"""app.py as the CDK CLI runs it: a bad context value is one line on stderr and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infra.deployment import PROJECT_ROOT
from tests import processes

from .conftest import cdk_context

pytestmark = pytest.mark.infra


def run_app(**overrides: str) -> subprocess.CompletedProcess[str]:
    # The CLI hands app.py its merged context in CDK_CONTEXT_JSON.
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(cdk_context(**overrides))}
    return processes.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"env": "qa"},
            "context key 'env': expected an environment of cdk.json: dev, prod, got 'qa'",
        ),
        (
            {"valkey.maxmemory_policy": "lru"},
            "context key 'valkey.maxmemory_policy': expected one of "
            "noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, "
            "volatile-lfu, volatile-random, volatile-ttl, got 'lru'",
        ),
    ],
)
def test_bad_context_prints_one_line_and_exits_1(overrides: dict[str, str], expected: str) -> None:
    result = run_app(**overrides)
    assert result.returncode == 1
    assert result.stderr == f"Configuration error: {expected}\n"
    assert "Traceback" not in result.stderr
