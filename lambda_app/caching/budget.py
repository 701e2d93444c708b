"""How long one request may spend waiting on a cache that does not answer.

A request makes several cache calls (the rate limiter, a read, a fill, an announcement).
The circuit breaker opens after a few failures, but until it does, each call can wait
out the client's timeouts and retries: a stall that began mid-request would cost that
request several times the timeouts of one call. Here a request pays for at most one:
once one of its cache calls has failed, its remaining cache calls are skipped (as if
the breaker were open) and it answers from the database. So no request waits on the
cache longer than :func:`request_budget_seconds` (every attempt's connect and read
timeouts, and the backoff between them), and a call is not even started when the
Lambda invocation has less time left than that, plus a margin to answer in.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

from lambda_app.settings import ValkeySettings

#: The cap valkey-py's jittered backoff waits between retries (``clients.valkey``).
BACKOFF_CAP_SECONDS = 0.5
#: What is kept back from the invocation's remaining time to build the answer.
ANSWER_MARGIN_SECONDS = 1.0


def request_budget_seconds(settings: ValkeySettings) -> float:
    """One cache call's worst case: every attempt's connect and read timeouts, and the
    backoff between them."""
    attempts = settings.retries + 1
    return attempts * (settings.connect_timeout + settings.timeout) + (
        settings.retries * BACKOFF_CAP_SECONDS
    )


@dataclass
class _Request:
    affordable: bool
    failed: bool = False


_current: ContextVar[_Request | None] = ContextVar("cache_budget", default=None)


def begin(settings: ValkeySettings, remaining_ms: int | None = None) -> Token[_Request | None]:
    """Start a request's budget (``remaining_ms``: the Lambda invocation's time left);
    pass what it returns to :func:`end` when the request is answered."""
    affordable = remaining_ms is None or (
        remaining_ms / 1000 - ANSWER_MARGIN_SECONDS >= request_budget_seconds(settings)
    )
    return _current.set(_Request(affordable))


def end(token: Token[_Request | None]) -> None:
    """The request is answered: what runs next in this thread (another request, the
    warmer, a script) starts without its spent budget."""
    _current.reset(token)


def exhausted() -> bool:
    """Whether this request may not start another cache call."""
    request = _current.get()
    return request is not None and (request.failed or not request.affordable)


def charge_failure() -> None:
    """One of this request's cache calls failed: it has had its wait."""
    request = _current.get()
    if request is not None:
        request.failed = True
