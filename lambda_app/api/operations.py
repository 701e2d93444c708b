"""The API's operations as its OpenAPI document states them: which methods each path
takes and which take a body. The public source for the access check and the 405's
``Allow`` header, instead of Powertools' private route tables. Building the document
costs ~125 ms once per process, so only paths that are rare in a healthy deployment use
it: an unsigned operator call (API Gateway refuses those first) and a wrong method.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

#: Where the document comes from: the app registers its generator (``use_document``), so
#: this module, which the app's error handling asks, never imports the app back.
_source: list[Callable[[], str]] = []


def use_document(generate: Callable[[], str]) -> None:
    """Read operations from the document ``generate`` returns (the app's OpenAPI JSON)."""
    _source[:] = [generate]
    operations.cache_clear()


@dataclass(frozen=True)
class Operation:
    path: str  # as documented: /products/{id}
    pattern: re.Pattern[str]
    method: str
    takes_body: bool


@functools.cache
def operations() -> tuple[Operation, ...]:
    if not _source:
        raise RuntimeError("no OpenAPI document registered: import lambda_app.api.app first")
    found = []
    for path, methods in json.loads(_source[0]())["paths"].items():
        pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))
        for method, operation in methods.items():
            found.append(Operation(path, pattern, method.upper(), "requestBody" in operation))
    return tuple(found)


def matching(path: str) -> list[Operation]:
    return [operation for operation in operations() if operation.pattern.fullmatch(path)]


def find(method: str, path: str) -> Operation | None:
    return next((op for op in matching(path) if op.method == method.upper()), None)


def allowed_methods(path: str) -> list[str]:
    """The methods ``path`` answers (a 405's ``Allow``): those of the path documented as
    it is, when there is one (``/users/me``), else of the templates it matches."""
    return at_exactly(path) or sorted({operation.method for operation in matching(path)})


def at_exactly(path: str) -> list[str]:
    """The methods of the operations documented at exactly ``path`` (no parameter
    standing in for a segment): ``/users/me`` is its own resource, not ``/users/{id}``."""
    return sorted({operation.method for operation in operations() if operation.path == path})
