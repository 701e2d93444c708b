"""Who may call what: the one rule the HTTP API's route table and the handler both apply.

* Reads (``GET``, ``HEAD``; any method that no route writes with) are public, except
  the admin routes.
* Logging in and out (``POST /sessions``, ``DELETE /sessions/current``) are public: the
  password and the bearer token are the credentials there.
* Every other write, and everything under ``/cache/``, is for operators: a request
  signed with SigV4, which API Gateway verifies (``AWS_IAM`` on the route) and hands to
  the function as ``requestContext.authorizer.iam``.

The stack builds its routes from this module (``infra/constructs/http_api.py``), and the
handler refuses an operator route without a verified principal whatever route key the
request arrived on, so a catch-all route added by mistake cannot open a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: What changes state. Any other method (GET, HEAD, OPTIONS, TRACE...) can reach no
#: write: the router answers it, or refuses it with 405.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADMIN_SEGMENT = "cache"
#: Public although they change state: the request carries its own credential.
SESSION_ROUTES = frozenset({("POST", "/sessions"), ("DELETE", "/sessions/current")})

OPERATOR = "operator"
PUBLIC = "public"


def normalized(path: str) -> str:
    """``//cache/./warm/`` and ``/cache/warm`` are the same route to the check."""
    segments = [part for part in path.split("/") if part not in ("", ".")]
    return "/" + "/".join(segments)


def caller_kind(method: str, path: str) -> str:
    """``operator`` (SigV4-signed IAM principal required) or ``public``."""
    method, path = method.upper(), normalized(path)
    if (method, path) in SESSION_ROUTES:
        return PUBLIC
    admin = path == f"/{ADMIN_SEGMENT}" or path.startswith(f"/{ADMIN_SEGMENT}/")
    return OPERATOR if admin or method in WRITE_METHODS else PUBLIC


def iam_principal(event: Mapping[str, Any]) -> str | None:
    """The caller's ARN when API Gateway verified a SigV4 signature, else None."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    arn = iam.get("userArn") if isinstance(iam, Mapping) else None
    return arn if isinstance(arn, str) and arn else None
