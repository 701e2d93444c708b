"""Domain errors of the service layer; the HTTP layer maps each to one status code.

Services never return HTTP shapes and never leak a driver exception: everything a
caller can act on is one of these, with a message that names what went wrong.

==================  ======  ==============================================
error               status  when
==================  ======  ==============================================
BadRequest          400     malformed input (names the field)
InvalidSession      401     unknown, expired or malformed session token
InvalidCredentials  401     wrong password or unknown email (one answer)
NotFound            404     the entity does not exist
Conflict            409     a unique value is taken (email)
RateLimited         429     over the limit; ``retry_after`` seconds
Unavailable         503     the database (or a required cache) did not answer
==================  ======  ==============================================
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

# What the connection layer raises when a server or a setting fails, for the API's
# error mapping: the API layer imports services, never the clients themselves.
from lambda_app.clients.errors import CacheUnavailable, DatabaseUnavailable
from lambda_app.config_types import ConfigError

if TYPE_CHECKING:
    from lambda_app.caching.rate_limit import Decision

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""

    status = 500
    code = "error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BadRequest(ServiceError):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class InvalidSession(ServiceError):
    status = 401
    code = "invalid_session"

    def __init__(self, message: str = "invalid session") -> None:
        super().__init__(message)


class InvalidCredentials(ServiceError):
    """Wrong password or unknown email: deliberately one answer for both."""

    status = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("email or password is wrong")


class NotFound(ServiceError):
    status = 404
    code = "not_found"

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found")


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.retry_after = decision.retry_after
        super().__init__(
            f"rate limit of {decision.limit} requests exceeded; "
            f"retry after {decision.retry_after:g} s"
        )


class Unavailable(ServiceError):
    """``reason`` is for the log (it may name hosts); ``advice`` is safe to return."""

    status = 503
    code = "unavailable"

    def __init__(self, dependency: str, reason: str, advice: str = "try again shortly") -> None:
        self.dependency = dependency
        self.reason = reason
        self.advice = advice
        super().__init__(f"{dependency} unavailable: {reason}")


#: MySQL's "table doesn't exist": a database nobody migrated.
_NO_SUCH_TABLE = 1146
SCHEMA_MISSING_ADVICE = (
    "the database has no schema; apply the migrations "
    "(make seed, or python -m scripts.ops seed --local)"
)


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Translate data-layer and driver exceptions into the errors above.

    Wrapped around every repository call of a service, so a database failure becomes
    ``Unavailable`` before any cache step that follows a write can run.
    """
    import pymysql

    from lambda_app.caching.keys import InvalidKeyError
    from lambda_app.clients.errors import DatabaseUnavailable
    from lambda_app.clients.mysql import DB_ERRORS
    from lambda_app.data import errors as data

    try:
        yield
    except ServiceError:
        raise
    except data.NotFound as exc:
        raise NotFound(exc.entity, exc.key) from None
    except (data.DuplicateEmail, data.DuplicateToken) as exc:
        raise Conflict(str(exc)) from None
    except data.InvalidValue as exc:
        raise BadRequest(str(exc), exc.field) from None
    except InvalidKeyError as exc:
        raise BadRequest(str(exc)) from None
    except DatabaseUnavailable as exc:
        raise Unavailable("database", exc.reason) from None
    except pymysql.err.ProgrammingError as exc:
        if exc.args and exc.args[0] == _NO_SUCH_TABLE:
            log.error("database schema missing: %s", exc)
            raise Unavailable("database", _reason(exc), SCHEMA_MISSING_ADVICE) from None
        raise
    except DB_ERRORS as exc:
        log.warning("database error: %s", exc)
        raise Unavailable("database", _reason(exc)) from None


def _reason(exc: BaseException) -> str:
    args: tuple[object, ...] = exc.args
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1].splitlines()[0]
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


__all__ = [
    "SCHEMA_MISSING_ADVICE",
    "BadRequest",
    "CacheUnavailable",
    "ConfigError",
    "Conflict",
    "DatabaseUnavailable",
    "InvalidCredentials",
    "InvalidSession",
    "NotFound",
    "RateLimited",
    "ServiceError",
    "Unavailable",
    "domain_errors",
]
