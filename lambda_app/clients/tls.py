"""One TLS client context per process and trust store, for Valkey and for MySQL.

ElastiCache (in transit) and RDS Proxy both speak TLS, so a new execution environment
opens TLS connections before its first answer. ``ssl.create_default_context()`` loads
and parses the whole system CA bundle each time (20-36 ms on these machines), and
valkey-py calls it for every connection it opens; PyMySQL was handed a new one per
connection too. Here each (CA file, hostname rule) gets one context, built on first use
and reused by every later connection: the same CA bundle and the same verification,
paid once. Contexts hold no connection, so they survive a SnapStart restore as they are.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def client_context(
    ca_file: str | None = None, *, check_hostname: bool = True, system_roots: bool = False
) -> ssl.SSLContext:
    """A verifying client context: certificates required, TLS 1.2 or newer. It trusts
    ``ca_file`` (else the system store), and the system store too with ``system_roots``
    (what valkey-py's own context does); ``check_hostname`` as each client had it."""
    context = ssl.create_default_context(cafile=ca_file)
    if system_roots and ca_file:
        context.load_default_certs()
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def valkey_context(ca_file: str | None) -> ssl.SSLContext:
    """Valkey's: valkey-py's verification (no hostname check), the system store beside
    ``VALKEY_CA_FILE``."""
    return client_context(ca_file, check_hostname=False, system_roots=True)


def mysql_context(ca_file: str | None) -> ssl.SSLContext:
    """MySQL's: ``DB_CA_FILE`` (the RDS bundle) when given, else the system store."""
    return client_context(ca_file)


def prewarm(valkey_tls: bool, valkey_ca: str | None, db_tls: bool, db_ca: str | None) -> None:
    """Build the contexts the configured servers need now, during the function's init
    (and so inside a SnapStart snapshot), not inside its first request."""
    if valkey_tls:
        valkey_context(valkey_ca)
    if db_tls:
        mysql_context(db_ca)
