"""Password hashing: salted scrypt (memory-hard, in the standard library).

Stored as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64), so the cost can be raised later
and old hashes still verify. A password is never logged, cached or returned; only this
module sees it, and only to hash or compare it.

``verify_unknown`` runs the same work against a dummy hash, so a login for an email that
does not exist takes as long as one with a wrong password (no user enumeration by timing).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

#: 16 MiB and about 50 ms per hash on one core: costly to guess at scale, cheap per login.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted hash of ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed ``stored`` never matches."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, base64.b64decode(expected))
    except (ValueError, TypeError):
        return False


@functools.cache
def _dummy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_unknown(password: str) -> bool:
    """The cost of a real check, for a user who does not exist; always False."""
    verify_password(password, _dummy())
    return False
