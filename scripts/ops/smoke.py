"""``smoke BASE_URL``: every route of the API contract, and the caching patterns behind it.

Checks run in groups (products, users, sessions, ...). The rate-limit group spends the
allowance of a user it creates and logs in, so it never starves the operator's, and
creates the records it reads, so a run needs no particular data and leaves none behind.
A group stops at its first failed prerequisite (no id, nothing to read back); the other
groups still run. Any failure makes the exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from scripts.ops.argtypes import base_url
from scripts.ops.errors import EXIT_FAILED, EXIT_OK
from scripts.ops.http import HttpClient, HttpError, http_client
from scripts.ops.output import print_json, print_text, progress, status, table
from scripts.ops.smoke_groups import (
    Abort,
    Group,
    GroupFn,
    Outcome,
    Run,
    check_cache_admin,
    check_dashboard,
    check_errors,
    check_health,
    check_products,
    check_rate_limit,
    check_sessions,
    check_top_products,
    check_users,
)

if TYPE_CHECKING:
    from scripts.ops.parents import Parents

GROUPS: tuple[tuple[str, GroupFn], ...] = (
    ("health", check_health),
    ("products", check_products),
    ("top", check_top_products),
    ("users", check_users),
    ("sessions", check_sessions),
    ("dashboard", check_dashboard),
    ("cache", check_cache_admin),
    ("errors", check_errors),
    ("ratelimit", check_rate_limit),
)


def run_group(name: str, fn: GroupFn, client: HttpClient, run: Run) -> list[Outcome]:
    """One group; a transport failure or an Abort ends it, cleanups always run."""
    group = Group(name, client)
    try:
        fn(group, run)
    except Abort:
        pass
    except HttpError as exc:
        group.expect("transport", str(exc))
    finally:
        for path in reversed(group.cleanups):
            with contextlib.suppress(HttpError):
                group.call("DELETE", path)
    return group.outcomes


def smoke(
    client: HttpClient,
    *,
    only: Sequence[str] = (),
    cache_prefix: str = "app",
    show_progress: bool = True,
) -> list[Outcome]:
    run = Run(tag=uuid.uuid4().hex[:10], cache_prefix=cache_prefix)
    chosen = [(n, fn) for n, fn in GROUPS if not only or n in only]
    client.get("/health")  # unreachable: one line and exit 1, not nine failed groups
    outcomes: list[Outcome] = []
    with progress(total=len(chosen), desc="smoke", unit="group", enabled=show_progress) as bar:
        for name, fn in chosen:
            outcomes += run_group(name, fn, client, run)
            bar.update()
    return outcomes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "smoke",
        parents=[parents.http, parents.json],
        help="exercise every API route and check the caching patterns",
        description="MISS then HIT, invalidation, write-through read-after-write, sliding "
        "session TTL, 429 past the limit, error shapes. Exit code 1 on any failure. "
        "Against the deployed API, --remote signs the operator routes with SigV4.",
    )
    parser.add_argument("base_url", metavar="BASE_URL", type=base_url, help="API base URL")
    parser.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        choices=[name for name, _ in GROUPS],
        help="only this group (repeatable)",
    )
    parser.add_argument(
        "--cache-prefix",
        default="app",
        help="the API's CACHE_PREFIX, for invalidation by key/pattern (default: app)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    client = http_client(args)
    try:
        outcomes = smoke(
            client, only=args.groups, cache_prefix=args.cache_prefix, show_progress=not args.json
        )
    finally:
        client.close()
    passed = all(o.ok for o in outcomes)
    failed = sum(1 for o in outcomes if not o.ok)
    if args.json:
        print_json(
            {"base_url": args.base_url, "passed": passed, "checks": [asdict(o) for o in outcomes]}
        )
    else:
        rows = [(o.group, status(o.ok), o.check, o.detail) for o in outcomes]
        print_text(table(("GROUP", "STATUS", "CHECK", "DETAIL"), rows))
        print_text(f"\n{len(outcomes) - failed} passed, {failed} failed ({args.base_url})")
    return EXIT_OK if passed else EXIT_FAILED
