"""Base URLs, transport failures as one line, cdk.json environments and stack outputs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from scripts.ops.errors import UsageError
from scripts.ops.http import HttpClient, HttpError, parse_base_url
from scripts.ops.project import find_output, load_project

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        (
            " https://abc.execute-api.us-east-1.amazonaws.com/prod/ ",
            "https://abc.execute-api.us-east-1.amazonaws.com/prod",
        ),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("HTTP://Example.com", "http://example.com"),
    ],
)
def test_parse_base_url(text: str, expected: str) -> None:
    assert parse_base_url(text) == expected


@pytest.mark.parametrize(
    "text", ["", "localhost:8080", "ftp://h", "http://", "http://h:0x1", "http://h/#top"]
)
def test_parse_base_url_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad URL"):
        parse_base_url(text)


def test_a_refused_connection_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(HttpError) as caught:
        client.get("/health")
    assert str(caught.value) == f"GET http://127.0.0.1:{port}/health: connection refused"


def test_project_reads_environments_from_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps(
            {
                "context": {
                    "environments": {
                        "dev": {"project": "shop", "region": "eu-west-1"},
                        "qa": {"project": "shop", "region": None},
                    }
                }
            }
        )
    )
    project = load_project(tmp_path)
    assert project.envs == ("dev", "qa")
    assert project.stack_names("qa")["api"] == "shop-qa-api"
    assert project.stack_names("qa", "other")["data"] == "other-data"
    assert project.region("dev") == "eu-west-1"
    assert project.region("qa") is None
    with pytest.raises(UsageError, match=r"unknown environment 'prod' \(choose from dev, qa\)"):
        project.stack_names("prod")


def test_project_defaults_without_cdk_json(tmp_path: Path) -> None:
    project = load_project(tmp_path)
    assert project.envs == ("dev", "prod")
    assert project.stack_names("dev")["network"] == "valkey-caching-dev-network"


def test_a_broken_cdk_json_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot read"):
        load_project(tmp_path)


def test_the_repository_cdk_json_has_dev_and_prod() -> None:
    assert {"dev", "prod"} <= set(load_project().envs)


def test_find_output_exact_then_by_prefix() -> None:
    outputs = {"ApiUrlE1B2C3": "https://hashed", "CacheEndpoint": "master.x:6379"}
    assert find_output(outputs, "api_url") == "https://hashed"
    assert find_output({**outputs, "ApiUrl": "https://exact"}, "api_url") == "https://exact"
    assert find_output(outputs, "cache_endpoint") == "master.x:6379"
    assert find_output(outputs, "db_endpoint") is None
