"""Users: write-through, so a read right after a write is a HIT with the new data.

A user record is personal data: an operator (SigV4) may read any, a logged-in user only
their own (``/users/me``, or ``/users/{id}`` with their own id); a stranger gets 401, and
someone else's id the 404 an unknown id gets. The check runs before the cache is read,
so a cached row is never a way around it.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from lambda_app.api.deps import cached, created, no_content, services
from lambda_app.api.guard import require_owner
from lambda_app.api.identity import validated_session
from lambda_app.api.models import User, UserIn, UserPatch, UserReplace
from lambda_app.api.openapi import responses
from lambda_app.api.routes import new_router
from lambda_app.api.routes.params import PathId

router = new_router()
TAGS = ["users"]


@router.post(
    "/users",
    summary="Create a user (write-through: cached at once)",
    tags=TAGS,
    status_code=201,
    responses=responses(201, "The new user", 400, 409, 413, 415, 503),
)
def create_user(user: UserIn) -> Response[User]:
    values = user.model_dump(exclude={"password"})
    new = User.model_validate(services().users.create(values, password=user.password))
    return created(new, location=f"/users/{new.id}")


@router.get(
    "/users/me",
    summary="The user of the bearer session",
    tags=TAGS,
    responses=responses(200, "The caller's own user", 401, 503, cached=True),
)
def get_me() -> Response[User]:
    user_id = int(validated_session(router.current_event)["user_id"])
    return cached(services().users.get(user_id), "user", user_id)


@router.get(
    "/users/<id>",
    summary="A user: any for an operator, only their own for a logged-in user",
    tags=TAGS,
    responses=responses(200, "The user", 400, 401, 404, 503, cached=True),
)
def get_user(id: PathId) -> Response[User]:
    require_owner(router.current_event, id)
    return cached(services().users.get(id), "user", id)


@router.put(
    "/users/<id>",
    summary="Replace a user with the representation GET returns (write-through)",
    tags=TAGS,
    responses=responses(200, "The updated user", 400, 404, 409, 413, 415, 503),
)
def replace_user(id: PathId, user: UserReplace) -> User:
    return User.model_validate(
        services().users.update(id, user.values(), password=user.password)
    )


@router.patch(
    "/users/<id>",
    summary="Change some fields of a user (merge; write-through)",
    tags=TAGS,
    responses=responses(200, "The updated user", 400, 404, 409, 413, 415, 503),
)
def patch_user(id: PathId, changes: UserPatch) -> User:
    values = changes.changes()
    password = values.pop("password", None)
    return User.model_validate(services().users.update(id, values, password=password))


@router.delete(
    "/users/<id>",
    summary="Delete a user",
    tags=TAGS,
    responses=responses(204, "Deleted", 400, 404, 503, body=False),
)
def delete_user(id: PathId) -> Response[None]:
    services().users.delete(id)
    return no_content()
