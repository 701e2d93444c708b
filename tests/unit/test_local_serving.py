"""Local serving stands in for API Gateway: who counts as the local operator, and how
``--sigv4`` checks a signature (scope, region, the body it covers)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from scripts import serve
from scripts.lambda_events import LOCAL_OPERATOR_ARN, local_principal
from scripts.local_sigv4 import DEFAULT_REGION, LOCAL_ARN, local_credentials, verify
from scripts.ops.sigv4 import sigv4_signer

pytestmark = pytest.mark.unit

URL = "http://127.0.0.1:8080/cache/warm"
BODY = b'{"products_top": 5}'


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "127.0.0.2"])
def test_loopback_peers_are_the_local_operator(peer):
    assert (local_principal(LOCAL_OPERATOR_ARN, peer) or "").startswith(LOCAL_OPERATOR_ARN)


@pytest.mark.parametrize("peer", ["192.0.2.10", "2001:db8::1", "10.1.2.3", "::ffff:192.0.2.1"])
def test_a_peer_on_the_network_is_anonymous(peer):
    assert local_principal(LOCAL_OPERATOR_ARN, peer) is None


def test_a_bearer_request_is_not_signed_even_from_loopback():
    assert local_principal(LOCAL_OPERATOR_ARN, "127.0.0.1", "Bearer abc") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::"])
def test_operator_mode_refuses_a_network_address_unless_told(host, capsys):
    with pytest.raises(SystemExit) as exited:
        serve.main(["--host", host, "--port", "0", "--no-prepare"])
    assert exited.value.code == 2
    assert "not loopback" in capsys.readouterr().err


def test_region_goes_with_sigv4(capsys):
    with pytest.raises(SystemExit):
        serve.main(["--region", "eu-west-1", "--port", "0"])
    assert "--region goes with --sigv4" in capsys.readouterr().err


def _signed(body: bytes, *, region: str = DEFAULT_REGION, extra: dict[str, str] | None = None
            ) -> dict[str, str]:
    sign = sigv4_signer(region, credentials=local_credentials())
    headers = {"Host": "127.0.0.1:8080", "Content-Type": "application/json", **(extra or {})}
    return {name.lower(): value for name, value in sign("POST", URL, headers, body).items()}


def _verify(headers: dict[str, str], body: bytes, **options: Any) -> str | None:
    return verify(method="POST", url=URL, headers=headers, body=body, **options)


def test_a_valid_signature_is_the_local_operator():
    assert _verify(_signed(BODY), BODY) == LOCAL_ARN


def test_a_signature_for_one_body_does_not_admit_another():
    assert _verify(_signed(BODY), b'{"products_top": 1000}') is None


def test_a_signed_payload_hash_must_be_the_bodys():
    claimed = {"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
    assert _verify(_signed(BODY, extra=claimed), BODY) == LOCAL_ARN
    assert _verify(_signed(BODY, extra=claimed), b"{}") is None


def test_unsigned_payload_is_refused():
    headers = _signed(BODY, extra={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert _verify(headers, BODY) is None
    assert _verify(headers, b'{"anything": "else"}') is None


def test_the_region_is_pinned():
    assert _verify(_signed(BODY, region="eu-west-1"), BODY) is None
    assert _verify(_signed(BODY, region="eu-west-1"), BODY, region="eu-west-1") == LOCAL_ARN
