"""API Gateway's side of a local request: the HTTP API (payload 2.0) event built from it,
the Lambda context, and the HTTP response built from the handler's result.

Shared by the local server (``scripts/serve.py``) and the tests that invoke the handler
directly, so both send the handler exactly what API Gateway would.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a real Lambda context."""

    function_name: str = "api-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:api-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/api-local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


#: Whom ``make serve`` says signed each request (API Gateway would have verified it).
LOCAL_OPERATOR_ARN = "arn:aws:iam::000000000000:user/local-operator"


def is_loopback(address: str) -> bool:
    """Whether ``address`` (a socket peer or a bind address) is this machine's loopback."""
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return address == "localhost"


def local_principal(
    operator: str | None, peer: str, authorization: str | None = None
) -> str | None:
    """Whom a local request counts as signed by, standing in for API Gateway's SigV4 check.

    Only a loopback peer is the local operator: a client on the network is anonymous,
    whatever address the server listens on. A request that authenticates another way
    (``Authorization: Bearer``) is not signed, as on AWS. One local operator per loopback
    address, so a test or a second terminal that binds another one (127.0.0.2, ...) is a
    caller of its own, as a second IAM user would be. The address is the socket's peer,
    never a header."""
    scheme = (authorization or "").strip().split(" ", 1)[0]
    if operator is None or not is_loopback(peer) or (scheme and scheme != "AWS4-HMAC-SHA256"):
        return None
    if peer in ("127.0.0.1", "::1"):
        return operator
    return f"{operator}-{peer.replace('.', '-').replace(':', '-')}"


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    principal: str | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event, as API Gateway would send it; ``principal`` is the IAM ARN
    of a SigV4-verified caller (``requestContext.authorizer.iam``), None for anonymous."""
    # Origin-form targets only: urlsplit would read "//cache/x" as a host named "cache".
    path, _, query_string = target.split("#", 1)[0].partition("?")
    if "://" in path:  # absolute-form (a proxy request): keep its path
        path = urlsplit(path).path
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = merged.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    try:
        text = body.decode() if is_text else None
    except UnicodeDecodeError:
        text = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path or "/",
        "rawQueryString": query_string,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if principal:
        event["requestContext"]["authorizer"] = {"iam": {
            "accessKey": "ASIALOCALOPERATOR", "accountId": "000000000000",
            "callerId": "AIDALOCALOPERATOR", "principalOrgId": None,
            "userArn": principal, "userId": "AIDALOCALOPERATOR",
        }}
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def response_parts(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes from a handler's v2 response."""
    status = int(result.get("statusCode", 200))
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return status, headers, body
