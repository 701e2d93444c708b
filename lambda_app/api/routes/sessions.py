"""Sessions: write-through with a sliding TTL; an unknown, malformed or expired token is
a 401 (the session store checks the token's form before it touches a key)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from lambda_app.api.deps import created, no_content, services
from lambda_app.api.middlewares import add_headers
from lambda_app.api.models import Session, SessionCreated, SessionIn
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router

router = new_router()
TAGS = ["sessions"]


@router.post(
    "/sessions",
    summary="Create a session for a user",
    tags=TAGS,
    status_code=201,
    responses=responses(201, "The token and its lifetime", 400, 404, 413, 415, 503),
)
def create_session(request: SessionIn) -> Response[SessionCreated]:
    return created(SessionCreated.model_validate(services().sessions.create(request.user_id)))


@router.get(
    "/sessions/<token>",
    summary="Validate a session (refreshes its sliding TTL)",
    tags=TAGS,
    responses=responses(200, "The session", 401, 503, cached=True),
)
def get_session(token: str) -> Session:
    session = services().sessions.validate(token)
    add_headers(**{"X-Cache": "HIT" if session.get("hit") else "MISS"})
    return Session.model_validate(session)


@router.delete(
    "/sessions/<token>",
    summary="End a session",
    tags=TAGS,
    responses=responses(204, "Ended", 401, 503, body=False),
)
def delete_session(token: str) -> Response[None]:
    services().sessions.delete(token)
    return no_content()
