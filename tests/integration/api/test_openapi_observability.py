"""The generated OpenAPI document, Swagger UI, EMF metrics per invocation, and tracing
kept out of the process outside Lambda."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests import processes
from tests.integration.api.harness import call

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = {
    "/health": {"get"},
    "/products": {"get", "post"},
    "/products/{id}": {"get", "put", "patch", "delete"},
    "/users": {"post"},
    "/users/{id}": {"get", "put", "patch", "delete"},
    "/users/me": {"get"},
    "/sessions": {"post"},
    "/sessions/current": {"get", "delete"},
    "/stats/dashboard": {"get"},
    "/cache/warm": {"post"},
    "/cache/invalidate": {"post"},
    "/cache/stats": {"get"},
}


def test_the_openapi_document_describes_every_route(api, caller) -> None:
    answer = call("GET", "/openapi.json", api_key=caller)
    assert answer.status == 200
    doc = answer.body
    assert doc["openapi"].startswith("3.")
    assert {path: set(ops) for path, ops in doc["paths"].items()} == CONTRACT
    product = doc["paths"]["/products/{id}"]["get"]
    assert {"200", "400", "404", "429", "500"} <= set(product["responses"])
    assert "X-Cache" in product["responses"]["200"]["headers"]
    assert "RateLimit-Remaining" in product["responses"]["200"]["headers"]
    assert "422" not in product["responses"]  # validation errors are 400 here
    create = doc["paths"]["/products"]["post"]
    assert "201" in create["responses"]
    assert create["requestBody"]["content"]["application/json"]["schema"]
    assert {"ErrorBody", "ProductIn", "Product"} <= set(doc["components"]["schemas"])


def test_the_document_says_who_may_call_each_operation(api, caller) -> None:
    """Every operation the access rule reserves for operators names the SigV4 scheme and a
    403; the session routes name the bearer scheme; public reads name none."""
    doc = call("GET", "/openapi.json", api_key=caller).body
    schemes = {path: {method: tuple(next(iter(req)) for req in op.get("security", []))
                      for method, op in ops.items()}
               for path, ops in doc["paths"].items()}
    assert schemes["/products/{id}"] == {"get": (), "put": ("sigv4",), "patch": ("sigv4",),
                                         "delete": ("sigv4",)}
    assert schemes["/cache/stats"] == {"get": ("sigv4",)}
    assert schemes["/sessions"] == {"post": ()}
    assert schemes["/sessions/current"] == {"get": ("bearer",), "delete": ("bearer",)}
    assert "403" in doc["paths"]["/cache/warm"]["post"]["responses"]
    assert set(doc["components"]["securitySchemes"]) == {"sigv4", "bearer"}


def test_swagger_ui_is_served_locally(api, caller) -> None:
    answer = call("GET", "/docs", api_key=caller)
    assert answer.status == 200
    assert (answer.header("Content-Type") or "").startswith("text/html")
    assert b"swagger" in answer.raw.lower()


def test_metrics_are_flushed_as_emf_on_every_invocation(api, caller, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    for _ in range(2):
        capsys.readouterr()
        call("GET", "/products/9", api_key=caller)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
                 if line.startswith("{") and '"_aws"' in line]
        names = {m["Name"] for blob in lines
                 for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        assert "Http2xx" in names
        assert {"CacheHits", "CacheMisses"} & names  # the product read, per data class


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_"))}
    result = processes.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout.strip().splitlines()[-1]  # after any EMF lines


def test_outside_lambda_the_xray_sdk_is_never_imported() -> None:
    code = (
        "import sys, lambda_app.handlers.api as m; "
        "from scripts.serve import LambdaContext; "
        "m.handler({'version': '2.0'}, LambdaContext()); "
        "print('aws_xray_sdk' in sys.modules)"
    )
    assert _python(code) == "False"


def test_tracing_is_on_in_lambda_unless_disabled() -> None:
    code = "from lambda_app.observability import tracing_enabled as t; print(t())"
    assert _python(code, LAMBDA_TASK_ROOT="/var/task") == "True"
    assert _python(code, LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true") == "False"
    assert _python(code) == "False"


def test_in_lambda_the_handler_runs_under_the_tracer() -> None:
    code = (
        "import sys, lambda_app.handlers.api as m; "
        "from scripts.serve import LambdaContext; "
        "r = m.handler({'version': '2.0'}, LambdaContext()); "
        "print(r['statusCode'], 'aws_xray_sdk' in sys.modules)"
    )
    assert _python(code, LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="api") == (
        "400 True"
    )


def test_the_document_publishes_only_what_it_uses_and_every_cache_header(api, caller):
    import re

    doc = call("GET", "/openapi.json", api_key=caller).body
    schemas = doc["components"]["schemas"]
    text = json.dumps(doc["paths"]) + json.dumps(schemas)
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert set(schemas) == referenced  # nothing unused (nor a required field undefined)
    for name, schema in schemas.items():
        assert set(schema.get("required", [])) <= set(schema.get("properties", {})), name
    header = doc["paths"]["/products/{id}"]["get"]["responses"]["200"]["headers"]
    sent = call("GET", "/products/1", api_key=caller).header("X-Cache-Source")
    assert sent in header["X-Cache-Source"]["schema"]["enum"]
