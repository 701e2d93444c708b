"""SigV4 verification for the local server, standing in for API Gateway's ``AWS_IAM``.

``make serve`` trusts every request as a local operator by default (one command for the
demo). ``python -m scripts.serve --sigv4`` instead does what the deployed API does: a
request counts as an operator's only when it carries a valid SigV4 signature (service
``execute-api``), here by one well-known local key pair that exists nowhere on AWS. So
the contract tests (schemathesis among them) see operator routes refuse unsigned and
badly signed requests, and the ops CLI's ``--remote`` signing is exercised end to end.

The signature is recomputed with botocore's own signer from the request as received:
the headers the client listed in ``SignedHeaders``, the path, the query and the body.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping

#: The local operator's key pair: documented, loopback only, never valid on AWS.
LOCAL_ACCESS_KEY = "AKIALOCALOPERATOR000"
LOCAL_SECRET_KEY = "local-operator-secret-not-an-aws-key"  # noqa: S105
LOCAL_ARN = "arn:aws:iam::000000000000:user/local-operator"
SERVICE = "execute-api"
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


def verify(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime | None = None,
) -> str | None:
    """The local operator's ARN when the request is validly signed by the local key.

    ``headers`` are the request's, with lower-case names; ``url`` is
    ``http://<Host header><path>[?query]`` as the client addressed it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    found = _AUTH.match((headers.get("authorization") or "").strip())
    stamp = headers.get("x-amz-date", "")
    if found is None or found["key"] != LOCAL_ACCESS_KEY or found["service"] != SERVICE:
        return None
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    if abs((now or dt.datetime.now(dt.UTC)) - signed_at) > MAX_SKEW:
        return None
    if not stamp.startswith(found["date"]):
        return None
    names = found["signed"].split(";")
    if "host" not in names or any(name not in headers for name in names):
        return None
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: headers[name] for name in names}
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(local_credentials(), SERVICE, found["region"])
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    return LOCAL_ARN if hmac.compare_digest(expected, found["signature"]) else None
