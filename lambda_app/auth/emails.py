"""Email addresses in one normal form, so that what is stored, what logs in and what the
login limit counts are the same thing.

MySQL's ``utf8mb4_unicode_ci`` treats ``ＡＤＡ@example.com`` (full-width), ``ada@example.com``
and ``a\u200bda@example.com`` (a zero-width space inside) as equal, while a limit keyed on
``email.lower()`` counts each spelling apart: every variant would be a fresh budget of
password guesses at the one account it reaches. Here an address is normalised once, as
Unicode's NFKC_Casefold does (NFKC, case fold, NFKC again), and control and format
characters (zero-width, bidi overrides, soft hyphen) are refused outright. The users
table compares the normal form byte for byte (``utf8mb4_bin``, migration 3), so two
addresses are the same account exactly when their normal forms are equal.
"""

from __future__ import annotations

import unicodedata

#: Unicode's control (Cc) and format (Cf) categories: invisible, so refused.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf"})
#: The same characters of the Basic Multilingual Plane as a JSON Schema (ECMA 262)
#: character-class body, for the OpenAPI document; the check itself asks ``unicodedata``.
REFUSED_BMP_CLASS = (
    "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f"
    "\\u0890-\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064"
    "\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb"
)
#: Characters a JSON Schema pattern can refuse up front because their normal form holds
#: white space or an at sign (``¸`` is a space and a combining cedilla, ``＠`` is ``@``):
#: an address that only becomes invalid once normalised would break the contract.
UNSAFE_BMP_CLASS = (
    "\\u00a8\\u00af\\u00b4\\u00b8\\u02d8-\\u02dd\\u037a\\u0384-\\u0385\\u1fbd"
    "\\u1fbf-\\u1fc1\\u1fcd-\\u1fcf\\u1fdd-\\u1fdf\\u1fed-\\u1fee\\u1ffd-\\u1ffe"
    "\\u2017\\u203e\\u309b-\\u309c\\ufc5e-\\ufc63\\ufdfa-\\ufdfb\\ufe49-\\ufe4c"
    "\\ufe6b\\ufe70\\ufe72\\ufe74\\ufe76\\ufe78\\ufe7a\\ufe7c\\ufe7e\\uff20\\uffe3"
)
RULE = (
    "stored and compared in Unicode NFKC with case folded (ＡＤＡ@Example.com is "
    "ada@example.com); control and format characters (zero-width, bidi) are refused"
)


class InvalidEmail(ValueError):
    """The address holds a character no address may hold."""


def normalise_email(value: str) -> str:
    """``value`` in its normal form; InvalidEmail for control or format characters."""
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in value):
        raise InvalidEmail("must not contain control or invisible format characters")
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in folded):
        raise InvalidEmail("must not contain control or invisible format characters")
    return folded
