"""A marking-style scorecard: checks with points, run one by one, totalled.

A check that cannot read what it judges (an API the account or an emulator does not
answer, a resource that is missing) is an ERROR, not a crash: it earns no points and
the other checks still run, so one gap never hides the rest of the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scripts.ops.judges import Verdict
from scripts.ops.output import ERROR, FAIL, PASS, table

S = TypeVar("S")


@dataclass(frozen=True)
class Check(Generic[S]):
    """One rule: what it is worth, the AWS calls it reads through, how it decides."""

    id: str
    title: str
    points: int
    reads: tuple[str, ...]
    evaluate: Callable[[S], Verdict]


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    points: int
    status: str
    detail: str
    reads: tuple[str, ...]

    @property
    def earned(self) -> int:
        return self.points if self.status == PASS else 0


@dataclass(frozen=True)
class Scorecard:
    results: tuple[Result, ...]

    @property
    def earned(self) -> int:
        return sum(r.earned for r in self.results)

    @property
    def total(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def passed(self) -> bool:
        return all(r.status == PASS for r in self.results)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def by_id(self) -> dict[str, Result]:
        return {r.id: r for r in self.results}

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "score": self.earned,
            "total": self.total,
            "counts": {s: self.count(s) for s in (PASS, FAIL, ERROR)},
            "checks": [
                {
                    "id": r.id,
                    "title": r.title,
                    "status": r.status,
                    "points": r.points,
                    "earned": r.earned,
                    "detail": r.detail,
                    "reads": list(r.reads),
                }
                for r in self.results
            ],
        }

    def render(self) -> str:
        rows = [(r.status, f"{r.earned}/{r.points}", r.title, r.detail) for r in self.results]
        summary = (
            f"score {self.earned}/{self.total}: {self.count(PASS)} pass, "
            f"{self.count(FAIL)} fail, {self.count(ERROR)} could not be read"
        )
        return table(("STATUS", "POINTS", "CHECK", "DETAIL"), rows) + "\n\n" + summary


def run_check(check: Check[S], subject: S, explain: Callable[[BaseException], str]) -> Result:
    """Evaluate one check; any exception becomes an ERROR explained in one line."""
    try:
        verdict = check.evaluate(subject)
    except Exception as exc:
        return Result(check.id, check.title, check.points, ERROR, explain(exc), check.reads)
    status = PASS if verdict.ok else FAIL
    return Result(check.id, check.title, check.points, status, verdict.detail, check.reads)


def score(
    checks: Sequence[Check[S]],
    subject: S,
    explain: Callable[[BaseException], str],
    on_result: Callable[[Result], None] | None = None,
) -> Scorecard:
    results = []
    for check in checks:
        result = run_check(check, subject, explain)
        if on_result is not None:
            on_result(result)
        results.append(result)
    return Scorecard(tuple(results))
