"""valkey-py's connections, with two defects of theirs taken out.

**Health checks that recurse.** A connection due a health check pings before its next
command, and retries the ping by reconnecting. A new connection is due at once (its
next check time starts at 0), and on connect it sends ``HELLO`` (RESP3, or any AUTH)
as an ordinary command, which runs the health check, whose ping reconnects, whose
``HELLO`` runs the check... While a frozen server's kernel still completes TCP
connects, each level waits out a read timeout: about a minute, then ``RecursionError``
(a known redis-py/valkey-py defect). Here a connection is not due a check until one
interval after it connected, and the check is one ping: a failure disconnects and
raises, and the command's own ``Retry`` (bounded) decides whether to reconnect.

**A TLS context per connection.** ``SSLConnection`` builds a new context (and parses the
CA bundle) for every connection; here every connection of the process shares one from
:mod:`lambda_app.clients.tls`, with the same trust store and verification.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import valkey
from valkey.connection import Connection, SSLConnection

from lambda_app.clients.tls import valkey_context


class _Checked:
    """The health-check rules above, for plain and TLS connections alike."""

    health_check_interval: int
    next_health_check: float

    def on_connect(self) -> None:
        if self.health_check_interval:
            self.next_health_check = time.time() + self.health_check_interval
        super().on_connect()  # type: ignore[misc]

    def check_health(self) -> None:
        if not self.health_check_interval or time.time() <= self.next_health_check:
            return
        try:
            self._send_ping()  # type: ignore[attr-defined]
        except (valkey.exceptions.ConnectionError, valkey.exceptions.TimeoutError):
            self.disconnect()  # type: ignore[attr-defined]
            raise


class CheckedConnection(_Checked, Connection):
    """A plain TCP connection without the recursive health check."""


class SharedContextSSLConnection(_Checked, SSLConnection):
    """A TLS connection on the process's shared context (verification unchanged:
    certificates required, the configured CA file beside the system store, no hostname
    check, as valkey-py's defaults)."""

    def _wrap_socket_with_ssl(self, sock: Any) -> ssl.SSLSocket:
        return valkey_context(self.ca_certs).wrap_socket(sock, server_hostname=self.host)
