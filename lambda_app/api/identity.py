"""The caller of one request, from what was verified only.

Rate limits count per caller: the IAM principal when the request was signed, else the
source address API Gateway saw; a request with a valid bearer session then also counts
for its user (so a user is one caller from any address). The address is counted
*before* the token is validated: a caller already over its limit costs no database
read. Headers the client chooses (``X-Api-Key``, ``X-Forwarded-For``) never name a
caller: a new value per request would be a fresh allowance per request.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from lambda_app.api.access import iam_principal
from lambda_app.services.errors import InvalidSession, ServiceError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

#: The session validated for this invocation (the limiter's check, reused by the route).
_session: ContextVar[tuple[str, dict[str, Any]] | None] = ContextVar("session", default=None)


def begin() -> None:
    """Forget the previous invocation's session."""
    _session.set(None)


def source_ip(event: BaseProxyEvent) -> str:
    context = event.raw_event.get("requestContext") or {}
    return str((context.get("http") or {}).get("sourceIp") or "unknown")


def bearer_token(event: BaseProxyEvent) -> str:
    """The token of ``Authorization: Bearer <token>``; ``InvalidSession`` without one."""
    value = (event.headers or {}).get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidSession("send the session token as Authorization: Bearer <token>")
    return token.strip()


def has_bearer(event: BaseProxyEvent) -> bool:
    """Whether the request names a bearer credential at all (valid or not)."""
    value = (event.headers or {}).get("authorization", "")
    return value.strip().partition(" ")[0].lower() == "bearer"


def validated_session(event: BaseProxyEvent) -> dict[str, Any]:
    """The bearer token's session (validated once per invocation; slides its TTL)."""
    from lambda_app.services import get_services

    token = bearer_token(event)
    known = _session.get()
    if known is not None and known[0] == token:
        return known[1]
    session = get_services().sessions.validate(token)
    _session.set((token, session))
    return session


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def network_caller(event: BaseProxyEvent) -> str:
    """``iam:<digest of the ARN>`` for a signed request, else ``ip:<address>``."""
    arn = iam_principal(event.raw_event)
    return "iam:" + _digest(arn) if arn else "ip:" + source_ip(event)


def session_caller(event: BaseProxyEvent) -> str | None:
    """``user:<id>`` of a valid bearer session on an unsigned request, else None (an
    invalid token is left to the route that needs it: counted by address only)."""
    if iam_principal(event.raw_event) or not has_bearer(event):
        return None
    try:
        return f"user:{int(validated_session(event)['user_id'])}"
    except ServiceError:
        return None
