"""The part of CloudWatch metric math the stack's expressions use, evaluated over series
as CloudWatch does: datapoint by datapoint, a timestamp missing from any operand is
missing from the result, ``FILL(m, v)`` fills ``m``'s gaps over the timestamps of the
other series, ``IF(c, a, b)`` picks per datapoint, and a division by zero is missing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

Series = dict[int, float]


class _Expr:
    def __init__(self, evaluate: Callable[[set[int]], Series]) -> None:
        self.evaluate = evaluate

    def _binary(self, other: Any, op: Callable[[float, float], float | None]) -> _Expr:
        other = _lift(other)

        def run(times: set[int]) -> Series:
            left, right = self.evaluate(times), other.evaluate(times)
            out = {}
            for t in set(left) & set(right):
                value = op(left[t], right[t])
                if value is not None:
                    out[t] = value
            return out

        return _Expr(run)

    def __add__(self, o: Any) -> _Expr: return self._binary(o, lambda a, b: a + b)
    def __radd__(self, o: Any) -> _Expr: return _lift(o)._binary(self, lambda a, b: a + b)
    def __mul__(self, o: Any) -> _Expr: return self._binary(o, lambda a, b: a * b)
    def __rmul__(self, o: Any) -> _Expr: return _lift(o)._binary(self, lambda a, b: a * b)
    def __truediv__(self, o: Any) -> _Expr:
        return self._binary(o, lambda a, b: None if b == 0 else a / b)
    def __ge__(self, o: Any) -> _Expr: return self._binary(o, lambda a, b: float(a >= b))


def _lift(value: Any) -> _Expr:
    if isinstance(value, _Expr):
        return value
    return _Expr(lambda times: {t: float(value) for t in times})


def evaluate(expression: str, series: Mapping[str, Series]) -> Series:
    times = {t for values in series.values() for t in values}
    names = {name: _Expr(lambda _t, v=dict(values): v) for name, values in series.items()}

    def fill(metric: _Expr, value: float) -> _Expr:
        return _Expr(lambda ts: {t: metric.evaluate(ts).get(t, value) for t in ts})

    def if_(condition: _Expr, yes: Any, no: Any) -> _Expr:
        def run(ts: set[int]) -> Series:
            cond, a, b = condition.evaluate(ts), _lift(yes).evaluate(ts), _lift(no).evaluate(ts)
            return {t: (a if cond[t] else b)[t] for t in cond if t in (a if cond[t] else b)}
        return _Expr(run)

    tree = ast.parse(expression.replace("IF(", "if_(").replace("FILL(", "fill("), mode="eval")
    result = eval(compile(tree, "<metric math>", "eval"),  # noqa: S307 (our own template)
                  {"__builtins__": {}}, {**names, "fill": fill, "if_": if_})
    return _lift(result).evaluate(times)
