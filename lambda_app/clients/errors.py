"""Typed errors for configuration and the two servers.

Callers (handlers, the local stack, the circuit breaker) branch on these types instead
of on the many exception classes valkey-py and PyMySQL raise.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing or malformed; names where it came from and what it accepts.

    The one configuration error of the project: the runtime's environment variables
    (``name`` is the variable) and the stack's CDK context (``name`` is the context key,
    shown as ``context key '...'``) both raise it. ``reason`` replaces "got <value>" when
    the value is fine alone but not with another one.
    """

    def __init__(
        self,
        name: str,
        value: object,
        expected: str,
        *,
        reason: str | None = None,
        context_key: bool = False,
    ) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        where = f"context key '{name}'" if context_key else name
        if reason is not None:
            message = f"{where}: {reason}; expected {expected}"
        else:
            shown = "missing" if value is None or value == "" else repr(value)
            message = f"{where}: expected {expected}, got {shown}"
        super().__init__(message)


class ServerUnavailable(RuntimeError):
    """A server could not be reached or answered wrongly within its timeouts."""

    server = "server"

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{self.server} at {endpoint} unavailable: {reason}")


class CacheUnavailable(ServerUnavailable):
    server = "Valkey"


class DatabaseUnavailable(ServerUnavailable):
    server = "MySQL"
