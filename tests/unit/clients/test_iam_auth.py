"""The ElastiCache IAM token's form, signed by botocore with fixed credentials."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.credentials import Credentials

from lambda_app.clients.iam_auth import (
    REFRESH_MARGIN_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    ElastiCacheIAMProvider,
    presign_connect_token,
)

pytestmark = pytest.mark.unit

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def _fields(token: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit("https://" + token)
    return parts.netloc, parse_qs(parts.query)


def test_token_is_a_presigned_connect_request_without_scheme():
    token = presign_connect_token(
        replication_group_id="my-cache", user_id="app-user", region="eu-west-1", credentials=CREDS
    )
    assert not token.startswith(("https://", "http://"))
    host, query = _fields(token)
    assert host == "my-cache"
    assert query["Action"] == ["connect"]
    assert query["User"] == ["app-user"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(TOKEN_LIFETIME_SECONDS)]
    assert query["X-Amz-Security-Token"] == ["session-token"]
    assert "host" in query["X-Amz-SignedHeaders"][0]
    credential = query["X-Amz-Credential"][0].split("/")
    assert credential[0] == "AKIDEXAMPLE"
    assert credential[2:] == ["eu-west-1", "elasticache", "aws4_request"]
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 60
    assert len(query["X-Amz-Signature"][0]) == 64


def test_signature_depends_on_the_secret():
    kwargs = {"replication_group_id": "c", "user_id": "u", "region": "us-east-1"}
    a = presign_connect_token(credentials=CREDS, **kwargs)
    b = presign_connect_token(credentials=Credentials("AKIDEXAMPLE", "other"), **kwargs)
    assert _fields(a)[1]["X-Amz-Signature"] != _fields(b)[1]["X-Amz-Signature"]


def test_provider_caches_the_token_and_resigns_before_expiry():
    now = [1000.0]
    calls = []

    def factory():
        calls.append(now[0])
        return CREDS

    provider = ElastiCacheIAMProvider(
        user_id="app-user",
        replication_group_id="my-cache",
        region="us-east-1",
        credentials_factory=factory,
        clock=lambda: now[0],
    )
    user, token = provider.get_credentials()
    assert user == "app-user"
    assert "Action=connect" in token
    now[0] += TOKEN_LIFETIME_SECONDS - REFRESH_MARGIN_SECONDS - 1
    assert provider.get_credentials()[1] == token
    assert len(calls) == 1
    now[0] += 2  # inside the refresh margin: sign again before the old token expires
    provider.get_credentials()
    assert len(calls) == 2
