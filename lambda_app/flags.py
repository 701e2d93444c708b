"""The words that mean yes and no in a setting, for every reader of flags (the runtime's
environment, the stack's context, the scorecard's parameter values).
"""

from __future__ import annotations

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_flag(text: str) -> bool | None:
    """True or False for one of the words (any case, surrounding space ignored), else
    None: the caller says what it expected."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    return None
