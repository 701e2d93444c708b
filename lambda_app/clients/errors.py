"""Typed errors for configuration and the two servers.

Callers (handlers, the local stack, the circuit breaker) branch on these types instead
of on the many exception classes valkey-py and PyMySQL raise.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is missing or malformed; names the variable and what it expects."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        shown = f"{value!r}" if value else "missing"
        super().__init__(f"{name}: expected {expected}, got {shown}")


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
