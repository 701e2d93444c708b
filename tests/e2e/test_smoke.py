"""The ops CLI against the locally served API (``api_url`` comes from tests/e2e/conftest.py).

`smoke` is the contract test of the HTTP API: every route, the caching patterns behind
them (MISS then HIT, invalidation, write-through, sliding sessions, rate limiting) and
the error shapes. `warm` and a short `load` run exercise the other HTTP commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.ops.cli import main
from scripts.ops.smoke import GROUPS

pytestmark = pytest.mark.e2e

#: The served API's CACHE_PREFIX (tests/e2e/conftest.py), for invalidation by key/pattern.
CACHE_PREFIX = "e2e"


def last_document(text: str) -> Any:
    """The CLI's JSON document: the last one on stdout. The handler serving the API runs in
    this process and prints its EMF metric lines (JSON too) to the same stdout."""
    decoder, position, document = json.JSONDecoder(), 0, None
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        while position < len(text) and text[position].isspace():
            position += 1
    return document


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main([*argv, "--json"])
    return code, last_document(capsys.readouterr().out)


def test_smoke_passes_every_check(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(["smoke", api_url, "--cache-prefix", CACHE_PREFIX], capsys)
    failed = {f"{c['group']}: {c['check']}": c["detail"] for c in report["checks"] if not c["ok"]}
    assert failed == {}
    assert code == 0
    assert {c["group"] for c in report["checks"]} == {name for name, _ in GROUPS}


def test_smoke_can_run_one_group(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(["smoke", api_url, "--group", "users"], capsys)
    assert code == 0
    assert {c["group"] for c in report["checks"]} == {"users"}


def test_warm_reports_what_it_warmed(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, body = run_json(["warm", api_url, "--top", "5"], capsys)
    assert code == 0
    assert isinstance(body["warmed"], int) and body["warmed"] >= 0
    assert isinstance(body["seconds"], int | float)


def test_a_short_load_run_reports_and_plots(
    api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "load.png"
    argv = ["load", api_url, "--duration", "2", "--concurrency", "2", "--items", "50",
            "--seed", "1", "--plot", str(plot)]  # fmt: skip
    code, report = run_json(argv, capsys)
    assert report["requests"] > 0
    assert report["errors"] == 0
    assert code == 0
    assert report["hits"] + report["misses"] > 0  # X-Cache was read on product reads
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "mean", "max"}
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_smoke_remote_signs_the_operator_routes_as_the_deployed_api_needs(
    valkey_server: Any, mysql_server: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's ``ops smoke "$API_URL" --remote``, against a server that verifies
    SigV4 as API Gateway does (the local key pair): every check passes signed, and the
    operator checks fail unsigned."""
    from scripts.local_sigv4 import DEFAULT_REGION, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
    from tests.e2e.conftest import served_api

    for name, value in (("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY),
                        ("AWS_SECRET_ACCESS_KEY", LOCAL_SECRET_KEY)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with served_api(valkey_server, mysql_server, "api_remote_smoke", CACHE_PREFIX="remote",
                    RATE_LIMIT_REQUESTS="1000",
                    serve={"principal": None, "sigv4": True}) as url:
        code, signed = run_json(["smoke", url, "--remote", "--region", DEFAULT_REGION,
                                 "--cache-prefix", "remote"], capsys)
        failed = [c for c in signed["checks"] if not c["ok"]]
        assert (code, failed) == (0, [])
        code, unsigned = run_json(["smoke", url, "--group", "cache",
                                   "--cache-prefix", "remote"], capsys)
    assert code == 1
    assert not all(c["ok"] for c in unsigned["checks"])
