"""The handler's own access check, on the route the router actually matched.

The stack's route table already refuses unsigned operator calls; this check is for the
day a route is misconfigured or the function is invoked another way. A check of the
request's *path* can be walked around by anything the router reads differently (``HEAD``
answered as ``GET``, a named stage the router strips, a path ending in a newline that
``$`` still matches), so the decision here is taken on the matched route's documented
path and method, after the router has done all of that. It runs first among the
middlewares: a refusal costs no Valkey or MySQL round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from lambda_app.api.access import OPERATOR, OWNER, caller_kind, iam_principal
from lambda_app.api.errors import ApiError, method_not_allowed
from lambda_app.api.identity import has_bearer, validated_session
from lambda_app.services.errors import InvalidSession, NotFound

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

#: The name of Powertools' stand-in route for a request no route matched.
_NOT_FOUND = "not_found_handler"


def matched_operation(app: APIGatewayHttpResolver) -> tuple[str, str] | None:
    """``(METHOD, /documented/{path})`` of the route the router matched; None for none."""
    route = app.context.get("_route")
    if route is None or getattr(route.func, "__name__", "") == _NOT_FOUND:
        return None
    return str(route.method), str(route.openapi_path)


def check_access(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """405 for a method a fixed path does not take (``PUT /users/me`` is not a write to a
    user named "me"); 403 for an operator route without a verified principal; 401 for a
    user record asked for with no credential at all."""
    _refuse_other_methods_of_a_fixed_path(app)
    operation = matched_operation(app)
    if operation is None or iam_principal(app.current_event.raw_event):
        return next_middleware(app)
    kind = caller_kind(*operation)
    if kind == OPERATOR:
        raise ApiError(
            403, "forbidden", "this route is for operators: sign the request with AWS SigV4 (IAM)"
        )
    if kind == OWNER and not has_bearer(app.current_event):
        raise InvalidSession("send the session token as Authorization: Bearer <token>")
    return next_middleware(app)


def _refuse_other_methods_of_a_fixed_path(app: APIGatewayHttpResolver) -> None:
    """A parameter matched a segment that is a documented path of its own. Only a value
    that is no id (letters) can be one, so the document is consulted only then."""
    arguments = app.context.get("_route_args") or {}
    if all(str(value).isdigit() for value in arguments.values()):
        return
    from lambda_app.api.operations import at_exactly

    path = str(app.context.get("_path") or app.current_event.path)
    allowed = at_exactly(path)
    if allowed:
        raise method_not_allowed(app.current_event.http_method, path, allowed)


def require_owner(event: BaseProxyEvent, user_id: int) -> None:
    """An operator, or the bearer session of ``user_id``; another user's session gets the
    404 an unknown id gets, so whether an id exists is never confirmed to a stranger."""
    if iam_principal(event.raw_event):
        return
    if int(validated_session(event)["user_id"]) != user_id:
        raise NotFound("user", user_id)
