"""Scorecard arithmetic, error isolation and rendering, on a plain dict subject."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.ops.judges import Verdict
from scripts.ops.scorecard import Check, Scorecard, score

pytestmark = pytest.mark.unit


def explain(exc: BaseException) -> str:
    return f"could not read: {exc}"


def lookup(key: str) -> Any:
    def evaluate(subject: dict[str, bool]) -> Verdict:
        return Verdict(subject[key], f"{key}={subject[key]}")

    return evaluate


CHECKS: tuple[Check[dict[str, bool]], ...] = (
    Check("a", "first rule", 10, ("svc:A",), lookup("a")),
    Check("b", "second rule", 5, ("svc:B",), lookup("b")),
    Check("c", "third rule", 3, ("svc:C",), lookup("missing")),
)


def test_points_are_earned_only_by_passing_checks() -> None:
    card = score(CHECKS, {"a": True, "b": False}, explain)
    assert [r.status for r in card.results] == ["PASS", "FAIL", "ERROR"]
    assert (card.earned, card.total, card.passed) == (10, 18, False)
    assert card.by_id()["c"].detail == "could not read: 'missing'"


def test_an_error_in_one_check_does_not_stop_the_others() -> None:
    seen: list[str] = []
    reordered = (CHECKS[2], CHECKS[0])
    card = score(reordered, {"a": True}, explain, on_result=lambda r: seen.append(r.id))
    assert seen == ["c", "a"]
    assert card.by_id()["a"].status == "PASS"


def test_all_passing_is_a_pass() -> None:
    card = score(CHECKS[:2], {"a": True, "b": True}, explain)
    assert card.passed
    assert card.earned == card.total == 15


def test_json_lists_every_check_with_what_it_reads() -> None:
    data = score(CHECKS, {"a": True, "b": False}, explain).to_json()
    assert data["score"] == 10 and data["total"] == 18 and data["passed"] is False
    assert data["counts"] == {"PASS": 1, "FAIL": 1, "ERROR": 1}
    assert data["checks"][1] == {
        "id": "b",
        "title": "second rule",
        "status": "FAIL",
        "points": 5,
        "earned": 0,
        "detail": "b=False",
        "reads": ["svc:B"],
    }


def test_render_is_a_table_and_a_score_line() -> None:
    text = score(CHECKS, {"a": True, "b": False}, explain).render()
    lines = text.splitlines()
    assert lines[0].split() == ["STATUS", "POINTS", "CHECK", "DETAIL"]
    assert lines[2].split()[:2] == ["PASS", "10/10"]
    assert lines[3].split()[:2] == ["FAIL", "0/5"]
    assert lines[-1] == "score 10/18: 1 pass, 1 fail, 1 could not be read"


def test_an_empty_scorecard() -> None:
    card = Scorecard(())
    assert (card.earned, card.total, card.passed) == (0, 0, True)
