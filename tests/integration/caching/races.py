"""A deterministic reader/writer interleaving for the stale-set race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

GIVE_UP_S = 10.0  # only so a broken interleaving fails instead of hanging


def race(read: Callable[[Callable[[], Any]], Any], load: Callable[[], Any],
         write: Callable[[], object]) -> Any:
    """``read(loader)`` on a thread whose loader runs ``load()``, then waits until
    ``write()`` (a commit plus its cache invalidation) has run on the caller's thread;
    returns what ``read`` returned (its exception is raised here).

    So the reader's database read always predates the write, and its cache fill always
    comes after the invalidation: the stale-set-after-delete interleaving, every time.
    """
    loaded, written = threading.Event(), threading.Event()
    outcome: list[Any] = []

    def paused_load() -> Any:
        value = load()
        loaded.set()
        if not written.wait(GIVE_UP_S):
            raise AssertionError("the writer never finished")
        return value

    def reader() -> None:
        try:
            outcome.append(read(paused_load))
        except BaseException as exc:  # re-raised on the test's thread
            outcome.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert loaded.wait(GIVE_UP_S), "the reader never loaded"
        write()
    finally:
        written.set()
        thread.join(GIVE_UP_S)
    assert not thread.is_alive() and len(outcome) == 1
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]
