"""Sessions: log in with email and password, then present the token as
``Authorization: Bearer <token>``; it never travels in a URL (URLs end up in access logs).

A wrong password and an unknown email get one 401 body; a missing, malformed, unknown
or expired token gets another, with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from lambda_app.api.deps import created, no_content, services
from lambda_app.api.headers import add_headers
from lambda_app.api.identity import bearer_token, source_ip, validated_session
from lambda_app.api.models import LoginIn, Session, SessionCreated
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router

router = new_router()
TAGS = ["sessions"]


@router.post(
    "/sessions",
    summary="Log in: a session token for an email and password",
    tags=TAGS,
    status_code=201,
    responses=responses(201, "The token, its idle lifetime and the user", 400, 401, 413, 415,
                        503),
)
def log_in(credentials: LoginIn) -> Response[SessionCreated]:
    session = services().sessions.login(
        credentials.email, credentials.password, source=source_ip(router.current_event)
    )
    return created(SessionCreated.model_validate(session))


@router.get(
    "/sessions/current",
    summary="The session of the bearer token (refreshes its sliding TTL)",
    tags=TAGS,
    responses=responses(200, "The session", 401, 503, cached=True),
)
def current_session() -> Session:
    session = validated_session(router.current_event)
    add_headers(**{"X-Cache": "HIT" if session.get("hit") else "MISS"})
    return Session.model_validate(session)


@router.delete(
    "/sessions/current",
    summary="Log out: end the session of the bearer token",
    tags=TAGS,
    responses=responses(204, "Ended", 401, 503, body=False),
)
def log_out() -> Response[None]:
    services().sessions.delete(bearer_token(router.current_event))
    return no_content()
