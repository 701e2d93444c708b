"""ElastiCache IAM authentication as a valkey-py ``CredentialProvider``.

The password is a SigV4-presigned ``connect`` request for the replication group, valid
for 15 minutes. valkey-py asks the provider on every new connection, so the token is
cached and re-signed well before expiry: a reconnect after a failover never presents a
stale token, and a warm Lambda does not sign on every connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from valkey.credentials import CredentialProvider

TOKEN_LIFETIME_SECONDS = 900
#: Re-sign when less than this remains, so a token never expires mid-handshake.
REFRESH_MARGIN_SECONDS = 180


def presign_connect_token(
    *,
    replication_group_id: str,
    user_id: str,
    region: str,
    credentials: Any,
    expires_in: int = TOKEN_LIFETIME_SECONDS,
) -> str:
    """The IAM auth token: the presigned URL of a ``connect`` action, scheme stripped."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    query = urlencode({"Action": "connect", "User": user_id})
    request = AWSRequest(method="GET", url=f"https://{replication_group_id}/?{query}")
    SigV4QueryAuth(credentials, "elasticache", region, expires=expires_in).add_auth(request)
    url: str = request.url
    return url.removeprefix("https://")


def _default_credentials() -> Any:
    import botocore.session

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found for ElastiCache IAM authentication")
    return credentials


class ElastiCacheIAMProvider(CredentialProvider):
    """Hands valkey-py ``(user_id, token)``, re-signing before the token expires."""

    def __init__(
        self,
        *,
        user_id: str,
        replication_group_id: str,
        region: str,
        credentials_factory: Callable[[], Any] = _default_credentials,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_id = user_id
        self.replication_group_id = replication_group_id
        self.region = region
        self._credentials_factory = credentials_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._token = presign_connect_token(
                    replication_group_id=self.replication_group_id,
                    user_id=self.user_id,
                    region=self.region,
                    credentials=self._credentials_factory(),
                )
                self._expires_at = now + TOKEN_LIFETIME_SECONDS
            return self.user_id, self._token
