"""Schemathesis hooks for the contract run: sign requests the way an operator does.

Loaded by the ``st`` command through ``SCHEMATHESIS_HOOKS``. Every request except the
session routes (whose credential is the bearer token) is signed with SigV4 by the local
key pair, which ``serve --sigv4`` verifies as API Gateway would; schemathesis's own
auth checks then send unsigned and badly signed copies and expect 401/403.
"""

from __future__ import annotations

from typing import Any

import requests
import schemathesis

from scripts.local_sigv4 import DEFAULT_REGION, local_credentials
from scripts.ops.sigv4 import sigv4_signer

_sign = sigv4_signer(DEFAULT_REGION, credentials=local_credentials())


class LocalSigV4(requests.auth.AuthBase):
    """Signs the request as prepared: the exact URL, headers and body bytes sent."""

    def __call__(self, request: Any) -> Any:
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        request.headers.update(_sign(request.method, request.url, dict(request.headers), body))
        return request


schemathesis.auth.set_from_requests(LocalSigV4()).skip_for(path_regex="^/sessions")
