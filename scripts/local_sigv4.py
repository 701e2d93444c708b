"""SigV4 verification for the local server, standing in for API Gateway's ``AWS_IAM``.

``make serve`` trusts every request as a local operator by default (one command for the
demo). ``python -m scripts.serve --sigv4`` instead does what the deployed API does: a
request counts as an operator's only when it carries a valid SigV4 signature (service
``execute-api``), here by one well-known local key pair that exists nowhere on AWS. So
the contract tests (schemathesis among them) see operator routes refuse unsigned and
badly signed requests, and the ops CLI's ``--remote`` signing is exercised end to end.

The signature is recomputed with botocore's own signer from the request as received:
the headers the client listed in ``SignedHeaders``, the path, the query and the hash of
the body *as received*. As API Gateway does, the credential scope must name this
server's region and ``execute-api``, and an ``x-amz-content-sha256`` header must be the
body's real hash (``UNSIGNED-PAYLOAD`` is refused): a signature made for one body never
admits another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping

#: The local operator's key pair: documented, loopback only, never valid on AWS.
LOCAL_ACCESS_KEY = "AKIALOCALOPERATOR000"
LOCAL_SECRET_KEY = "local-operator-secret-not-an-aws-key"  # noqa: S105
LOCAL_ARN = "arn:aws:iam::000000000000:user/local-operator"
SERVICE = "execute-api"
#: The region the local server pins signatures to unless told another (``--region``).
DEFAULT_REGION = "us-east-1"
#: API Gateway refuses signatures older or newer than this.
MAX_SKEW = dt.timedelta(minutes=5)

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;._-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def local_credentials() -> object:
    from botocore.credentials import Credentials

    return Credentials(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)


def describe_key_pair() -> str:
    """The local key pair as a person pastes it (it is valid nowhere but here)."""
    return (
        f"  export AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY}\n"
        f"  export AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_KEY}\n"
        "  unset AWS_SESSION_TOKEN"
    )


def verify(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str = DEFAULT_REGION,
    now: dt.datetime | None = None,
) -> str | None:
    """The local operator's ARN when the request is validly signed by the local key, for
    ``region`` and ``execute-api``, over this very body.

    ``headers`` are the request's, with lower-case names; ``url`` is
    ``http://<Host header><path>[?query]`` as the client addressed it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    found = _AUTH.match((headers.get("authorization") or "").strip())
    stamp = headers.get("x-amz-date", "")
    body_hash = hashlib.sha256(body).hexdigest()
    if found is None or not _in_scope(found, stamp, region, now) or not _body_matches(
        headers, body_hash
    ):
        return None
    names = found["signed"].split(";")
    if "host" not in names or any(name not in headers for name in names):
        return None
    signed = {name: headers[name] for name in names}
    if "x-amz-content-sha256" in signed:
        signed["x-amz-content-sha256"] = body_hash
    request = AWSRequest(method=method, url=url, data=body, headers=signed)
    request.context["timestamp"] = stamp
    signer = SigV4Auth(local_credentials(), SERVICE, found["region"])
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    return LOCAL_ARN if hmac.compare_digest(expected, found["signature"]) else None


def _in_scope(found: re.Match[str], stamp: str, region: str, now: dt.datetime | None) -> bool:
    """The local key, this server's region and service, and a fresh, consistent date."""
    if (found["key"], found["region"], found["service"]) != (LOCAL_ACCESS_KEY, region, SERVICE):
        return False
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    fresh = abs((now or dt.datetime.now(dt.UTC)) - signed_at) <= MAX_SKEW
    return fresh and stamp.startswith(found["date"])


def _body_matches(headers: Mapping[str, str], body_hash: str) -> bool:
    """A declared payload hash must be the body's (``UNSIGNED-PAYLOAD`` never is)."""
    claimed = headers.get("x-amz-content-sha256")
    return claimed is None or claimed.strip().lower() == body_hash
