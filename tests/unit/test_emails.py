"""Email normal forms: the one rule behind what is stored, what logs in and what the
login limit counts, and the JSON Schema pattern that states it in the contract."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from lambda_app.api.fields import _SPACE_CHARS, EMAIL_PATTERN
from lambda_app.auth.emails import (
    REFUSED_BMP_CLASS,
    REFUSED_CATEGORIES,
    UNSAFE_BMP_CLASS,
    InvalidEmail,
    normalise_email,
)

pytestmark = pytest.mark.unit

_BMP = [chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF]


@pytest.mark.parametrize(("given", "stored"), [
    ("Ada@Example.COM", "ada@example.com"),
    ("ＡＤＡ@ｅｘａｍｐｌｅ.com", "ada@example.com"),   # full width
    ("straße@example.com", "strasse@example.com"),      # case folding, not lower()
    ("ﬁ@example.com", "fi@example.com"),                  # a compatibility ligature
])
def test_spellings_of_one_address_have_one_normal_form(given, stored):
    assert normalise_email(given) == stored
    assert normalise_email(stored) == stored  # idempotent


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\u202e", "\u00ad", "\ufeff", "\x00",
                                  "\x7f", "\U000e0041"])
def test_invisible_characters_are_refused(char):
    with pytest.raises(InvalidEmail):
        normalise_email(f"ada{char}@example.com")


def test_the_schemas_refused_class_covers_every_bmp_control_and_format_character():
    refused = re.compile(f"[{REFUSED_BMP_CLASS}]")
    missing = [hex(ord(c)) for c in _BMP
               if unicodedata.category(c) in REFUSED_CATEGORIES and not refused.match(c)]
    assert not missing, f"Unicode {unicodedata.unidata_version} ({sys.version_info[:2]})"


def test_the_pattern_refuses_what_normalising_would_turn_into_space_or_an_at_sign():
    """Every address the pattern admits is still an address once normalised."""
    unsafe = re.compile(f"[{UNSAFE_BMP_CLASS}]")
    bad = set(_SPACE_CHARS) | {"@"}
    missing = []
    for char in _BMP:
        if char in bad or unicodedata.category(char) in REFUSED_CATEGORIES:
            continue
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", char).casefold())
        becomes_bad = any(c in bad or unicodedata.category(c) in REFUSED_CATEGORIES
                          for c in folded)
        if becomes_bad and not unsafe.match(char):
            missing.append(hex(ord(char)))
    assert not missing


@pytest.mark.parametrize("address", ["a\u00b8b@example.com", "a\uff20b@example.com",
                                     "a\u200b@example.com"])
def test_the_pattern_refuses_them_up_front(address):
    assert not re.match(EMAIL_PATTERN, address)
