"""What ``smoke`` expects of an answer: each check returns None when met, else one line
saying what was wrong (so a group's outcome reads like a marking sheet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from scripts.ops.http import Response, error_shape

SLIDING_SLACK = 5  # seconds a refreshed session TTL may lag its full lifetime


def problems(*found: str | None) -> str | None:
    """All problems found, joined; None when there are none."""
    text = "; ".join(p for p in found if p)
    return text or None


def status_is(response: Response, *codes: int) -> str | None:
    if response.status in codes:
        return None
    wanted = " or ".join(map(str, codes))
    return f"expected {wanted}: {response.describe()}"


def cache_is(response: Response, wanted: str) -> str | None:
    got = response.header("X-Cache")
    if got == wanted:
        return None
    return f"{response.method} {response.path}: X-Cache {got or 'missing'}, expected {wanted}"


def is_error(response: Response, code: int) -> str | None:
    """The status and the contract's ``{"error", "message"}`` body."""
    return problems(
        status_is(response, code), error_shape(response) if response.status == code else None
    )


def _same(key: str, got: Any, want: Any) -> bool:
    if key == "price":  # a string or a number: compare the amounts
        try:
            return Decimal(str(got)) == Decimal(str(want))
        except InvalidOperation:
            return False
    return bool(got == want)


def fields_match(body: Any, wanted: Mapping[str, Any]) -> str | None:
    """``body`` is an object holding at least ``wanted`` (prices compared as amounts)."""
    if not isinstance(body, dict):
        return f"expected a JSON object, got {body!r:.80}"
    wrong = [
        f"{k}={body.get(k)!r} (expected {v!r})"
        for k, v in wanted.items()
        if not _same(k, body.get(k), v)
    ]
    return ", ".join(wrong) or None


def limit_headers(response: Response) -> str | None:
    """RateLimit-Limit/-Remaining/-Reset present and whole numbers."""
    bad = [
        name
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
        if not (response.header(name) or "").strip().isdigit()
    ]
    return f"{response.path}: missing or non-numeric {', '.join(bad)}" if bad else None


def retry_after(response: Response) -> str | None:
    value = (response.header("Retry-After") or "").strip()
    return None if value.isdigit() else f"Retry-After {value or 'missing'} (expected seconds)"


def items_of(body: Any) -> list[Any] | None:
    """A list body, or the list inside ``{"products"|"items": [...]}``."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("products", "items", "top"):
            if isinstance(body.get(key), list):
                return list(body[key])
    return None


def ranked_by_views(items: Sequence[Any], top: int) -> str | None:
    if len(items) > top:
        return f"{len(items)} items for top={top}"
    views = [item.get("views") if isinstance(item, dict) else None for item in items]
    counts = [v for v in views if isinstance(v, int)]
    if len(counts) != len(views):
        return f"items without integer views: {views}"
    if counts != sorted(counts, reverse=True):
        return f"not ordered by views: {views}"
    return None


def sliding_refresh(created_ttl: int, seen: Mapping[str, Any]) -> str | None:
    """A read reset the session's TTL to (about) its full lifetime, when the API says so."""
    left = seen.get("expires_in", seen.get("ttl"))
    if left is None:
        return None  # the contract does not require the figure on reads
    if not isinstance(left, int) or left < created_ttl - SLIDING_SLACK:
        return f"expires_in {left!r} after a read (created with {created_ttl}): not refreshed"
    return None


def find_key(body: Any, wanted: str) -> bool:
    """``wanted`` is a key somewhere in the JSON ``body`` (any depth)."""
    if isinstance(body, dict):
        return wanted in body or any(find_key(v, wanted) for v in body.values())
    if isinstance(body, list):
        return any(find_key(v, wanted) for v in body)
    return False


# -- the runner -------------------------------------------------------------------------


