"""Typed errors for the two servers (a bad setting is ``config_types.ConfigError``).

Callers (handlers, the local stack, the circuit breaker) branch on these types instead
of on the many exception classes valkey-py and PyMySQL raise.
"""

from __future__ import annotations


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
