"""The login budgets and session lifetime README states are the defaults the runtime
uses: both read from one place (``lambda_app.settings``), checked here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambda_app.settings import RateLimitSettings, SessionSettings

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _row(first_cell: str) -> list[str]:
    match = re.search(rf"^\| {re.escape(first_cell)} \|(.*)$", README, re.M)
    assert match is not None, first_cell
    return [cell.strip() for cell in match.group(1).split("|")]


def test_the_login_budgets_table_states_the_defaults():
    limits = RateLimitSettings()
    assert _row("per address")[0] == str(limits.login_requests)
    assert _row("per address and account")[0] == str(limits.login_address_account_failures)
    assert _row("per account")[0] == str(limits.login_account_failures)
    assert "per 15-minute window" in README and limits.login_window == 15 * 60


def test_the_configuration_table_states_the_defaults():
    limits, sessions = RateLimitSettings(), SessionSettings()
    assert _row("`LOGIN_RATE_LIMIT_REQUESTS`, `LOGIN_RATE_LIMIT_WINDOW`")[0] == (
        f"`{limits.login_requests}`, `{limits.login_window}` s")
    assert _row("`LOGIN_ADDRESS_ACCOUNT_FAILURES`, `LOGIN_ACCOUNT_FAILURES`")[0] == (
        f"`{limits.login_address_account_failures}`, `{limits.login_account_failures}`")
    assert _row("`SESSION_MAX_LIFETIME`")[0].startswith(f"`{sessions.max_lifetime}` s")
