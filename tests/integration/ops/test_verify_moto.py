"""`verify` against an environment created in moto: correct settings pass, wrong ones fail.

Which checks moto can answer is spelled out in moto_env (EMULATED / NOT_EMULATED); the
judges behind the non-emulated checks are covered by tests/unit/ops/test_judges.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_app.data.migrations import MIGRATIONS
from scripts.ops.cli import main
from tests.integration.ops.moto_env import (
    API_CHECKS,
    EMULATED,
    NOT_EMULATED,
    PREFIX,
    REGION,
    Knobs,
    build,
)

pytestmark = pytest.mark.integration

VERIFY = ["verify", "--env", "dev", "--prefix", PREFIX, "--region", REGION, "--http-timeout", "2"]


def run_verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*VERIFY, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}


def test_a_correct_environment_passes_every_emulated_check(
    aws: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build(Knobs(), closed_url)
    code, report = run_verify(capsys)
    seen = statuses(report)
    failing = {
        c["id"]: c["detail"]
        for c in report["checks"]
        if c["id"] in EMULATED and c["status"] != "PASS"
    }
    assert failing == {}
    assert {seen[c] for c in NOT_EMULATED} == {"ERROR"}
    assert {seen[c] for c in API_CHECKS} == {"FAIL"}
    assert set(seen) == {*EMULATED, *NOT_EMULATED, *API_CHECKS}
    assert code == 1  # not everything passed
    assert report["score"] == sum(c["points"] for c in report["checks"] if c["id"] in EMULATED)
    assert report["stacks"] == sorted(
        f"{PREFIX}-{p}" for p in ("api", "data", "monitoring", "network")
    )


def test_checks_moto_cannot_answer_say_why(
    aws: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build(Knobs(), closed_url)
    _, report = run_verify(capsys)
    details = {c["id"]: c["detail"] for c in report["checks"]}
    for check in ("cache.parameter_family", "cache.maxmemory_policy"):
        assert details[check] == "cache cluster moto-dev-cache-001 names no parameter group"
    assert details["network.cache_sg"] == "the cache cluster reports no security groups"
    assert details["api.health"].endswith("/health: connection refused")
    assert details["api.auth"].endswith("/cache/stats: connection refused")
    reads = {c["id"]: c["reads"] for c in report["checks"]}
    assert "elasticache:DescribeCacheParameters" in reads["cache.maxmemory_policy"]


def wrong(name: str, knobs: Knobs, check: str, says: str) -> Any:
    """One deliberately wrong setting, the check that must catch it, and what it says."""
    return pytest.param((knobs, check, says), id=name)


WRONG = [
    wrong("public-db", Knobs(db_public=True), "db.private", "publicly accessible"),
    wrong("plain-db", Knobs(db_encrypted=False), "db.encrypted", "NOT encrypted"),
    wrong("db-tls-off", Knobs(db_require_tls=False), "db.tls", "require_secure_transport=0"),
    wrong("db-open", Knobs(db_open_to_world=True), "network.db_sg", "0.0.0.0/0"),
    wrong("cache-plaintext", Knobs(cache_tls=False), "cache.tls", "in-transit encryption off"),
    wrong("cache-no-auth", Knobs(cache_user_groups=False), "cache.auth", "no authentication"),
    wrong("single-az", Knobs(multi_az=False), "cache.multi_az", "Multi-AZ disabled"),
    wrong("cache-plain", Knobs(cache_at_rest=False), "cache.at_rest", "not encrypted"),
    wrong("redis", Knobs(engine="redis"), "cache.engine", "engine redis"),
    wrong("old-valkey", Knobs(engine_version="7.2"), "cache.version", "version 7.2"),
    wrong(
        "function-elsewhere", Knobs(functions_in_vpc=False), "functions.vpc", "not in the data VPC"
    ),
    wrong("no-cache-alarm", Knobs(cache_alarm=False), "alarms.present", "none on cache"),
    wrong("nobody-listens", Knobs(subscriber=False), "alarms.subscriber", "reach nobody"),
    wrong("empty-graphs", Knobs(metrics_emitted=False), "metrics.flowing", "have no data"),
    wrong("old-schema", Knobs(schema_version=1), "migration.current",
          f"this code needs {MIGRATIONS[-1].version}"),
]


def test_the_api_check_signs_like_an_operator_and_the_api_tells_the_difference(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    valkey_server: Any, mysql_server: Any,
) -> None:
    """api.auth against a real served API that verifies SigV4 (scripts/local_sigv4.py):
    the unsigned call is refused, the call signed with the operator's credentials (here
    the local key pair) is served. moto is only the inventory behind it."""
    from scripts.local_sigv4 import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
    from scripts.serve import start_in_thread
    from tests.integration.api.harness import api_database, api_env, environment

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY)
    database = api_database(mysql_server, "verify")
    with environment(api_env(valkey_server, database, CACHE_PREFIX="verify")):
        from lambda_app.handlers.api import handler

        server, thread = start_in_thread(handler, principal=None, sigv4=True)
        try:
            build(Knobs(), f"http://127.0.0.1:{server.server_address[1]}")
            _, report = run_verify(capsys)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    results = {c["id"]: (c["status"], c["detail"]) for c in report["checks"]}
    assert results["api.auth"] == ("PASS", "unsigned -> 403, signed -> 200")
    assert results["api.health"][0] == "PASS"


@pytest.mark.parametrize("case", WRONG)
def test_one_wrong_setting_fails_its_check_and_only_it(
    aws: None, closed_url: str, capsys: pytest.CaptureFixture[str], case: tuple[Knobs, str, str]
) -> None:
    knobs, check, says = case
    build(knobs, closed_url)
    code, report = run_verify(capsys)
    failed = {
        c["id"]: c["detail"]
        for c in report["checks"]
        if c["id"] in EMULATED and c["status"] != "PASS"
    }
    assert list(failed) == [check]
    assert says in failed[check]
    assert code == 1


def test_the_table_shows_points_and_a_score_line(
    aws: None, closed_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    build(Knobs(db_public=True), closed_url)
    code = main(VERIFY)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 1
    assert any(
        line.startswith("FAIL") and "database not publicly accessible" in line for line in lines
    )
    assert any(line.startswith("PASS") and "cache engine is valkey" in line for line in lines)
    assert lines[-1].startswith("score ")


def test_an_environment_that_is_not_deployed_is_one_line(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(VERIFY)
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: no stacks found")
