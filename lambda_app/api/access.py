"""Who may call what: the one rule the HTTP API's route table and the handler both apply.

Every operation has one decided caller:

* ``public``: reads of catalogue data, health, the document, and logging in (the
  password is the credential);
* ``session``: a bearer session (``Authorization: Bearer <token>``) that the handler
  validates: the caller's own session and their own user record (``/users/me``);
* ``owner``: a user record by id (``/users/{id}``): an operator may read any, a
  bearer session only its own user's (another id is a 404, so ids cannot be probed);
* ``operator``: every other write and everything under ``/cache/``: a request signed
  with SigV4, which API Gateway verifies (``AWS_IAM`` on the route) and hands to the
  function as ``requestContext.authorizer.iam``.

The stack builds its routes from this module (``infra/constructs/http_api.py``):
``operator`` and ``owner`` routes are ``AWS_IAM`` there, so on AWS a logged-in user reads
their record at ``/users/me``. The handler applies the rule again to the route its
router actually matched (:mod:`lambda_app.api.guard`), whatever route key, stage or
method spelling the request arrived with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

CallerKind = Literal["public", "session", "owner", "operator"]
OPERATOR: CallerKind = "operator"
OWNER: CallerKind = "owner"
SESSION: CallerKind = "session"
PUBLIC: CallerKind = "public"

#: What changes state. Any other method (GET, HEAD, OPTIONS, TRACE...) can reach no
#: write: the router answers it, or refuses it with 405.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADMIN_SEGMENT = "cache"

#: Operations whose caller is not decided by method alone (paths as documented).
EXCEPTIONS: Mapping[tuple[str, str], CallerKind] = {
    ("POST", "/sessions"): PUBLIC,
    ("GET", "/sessions/current"): SESSION,
    ("DELETE", "/sessions/current"): SESSION,
    ("GET", "/users/me"): SESSION,
    ("GET", "/users/{id}"): OWNER,
}


def caller_kind(method: str, path: str) -> CallerKind:
    """Who may call ``method path`` (a documented path: ``/users/{id}``). ``HEAD`` is
    ``GET`` (the handler answers it as such)."""
    method = method.upper()
    if method == "HEAD":
        method = "GET"
    known = EXCEPTIONS.get((method, path))
    if known is not None:
        return known
    admin = path == f"/{ADMIN_SEGMENT}" or path.startswith(f"/{ADMIN_SEGMENT}/")
    return OPERATOR if admin or method in WRITE_METHODS else PUBLIC


def needs_signature(kind: CallerKind) -> bool:
    """Whether API Gateway requires SigV4 (``AWS_IAM``) on a route of this kind."""
    return kind in (OPERATOR, OWNER)


def iam_principal(event: Mapping[str, Any]) -> str | None:
    """The caller's ARN when API Gateway verified a SigV4 signature, else None."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    iam = authorizer.get("iam") if isinstance(authorizer, Mapping) else None
    arn = iam.get("userArn") if isinstance(iam, Mapping) else None
    return arn if isinstance(arn, str) and arn else None
