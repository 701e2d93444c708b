"""SigV4 signing for the API's operator routes, from the operator's AWS credentials.

The deployed HTTP API puts ``AWS_IAM`` on every write and admin route: API Gateway
verifies the signature and hands the function the caller's ARN. This is what
``curl --aws-sigv4 "aws:amz:<region>:execute-api"`` does, with botocore's signer and
whatever credentials the AWS CLI would use (profile, SSO, environment, role).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scripts.ops.errors import OpsError

Signer = Callable[[str, str, Mapping[str, str], bytes | None], dict[str, str]]
SERVICE = "execute-api"


def sigv4_signer(region: str, *, profile: str | None = None, credentials: Any = None) -> Signer:
    """A function that returns ``headers`` plus the SigV4 ones for one request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    found = credentials
    if found is None:
        found = Session(profile=profile).get_credentials()
    if found is None:
        raise OpsError(
            "no AWS credentials to sign operator requests with: configure a profile "
            "(aws configure / aws sso login) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    auth = SigV4Auth(found, SERVICE, region)

    def sign(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        auth.add_auth(request)
        return dict(request.headers.items())

    return sign
