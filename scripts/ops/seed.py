"""``seed``: schema migrations plus seed data, locally or through the migrator function.

Locally it runs ``lambda_app.data`` against the database the environment variables name
(``make seed`` exports the local servers' settings first). Remotely the database sits in
private subnets, so the only way in is the migrator Lambda inside the VPC:
``{"action": "seed"}`` is sent to it and its answer printed.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from scripts.ops.argtypes import positive_int
from scripts.ops.errors import EXIT_OK, OpsError
from scripts.ops.output import print_json, print_text, progress

if TYPE_CHECKING:
    from scripts.ops.inventory import Inventory
    from scripts.ops.parents import Parents


def seed_options(
    products: int | None, users: int | None, orders: int | None, rng_seed: int | None
) -> dict[str, int]:
    """The sizes and random seed the operator chose (unset ones left to the seeder)."""
    chosen = {"products": products, "users": users, "orders": orders, "seed": rng_seed}
    return {k: v for k, v in chosen.items() if v is not None}


def seed_local(
    options: dict[str, int], *, show_progress: bool = True, password: str | None = None
) -> dict[str, Any]:
    """Migrate, then replace the tables' rows with the deterministic seed data."""
    try:  # imported late: only --local needs the app's data layer and its driver
        from lambda_app.clients.errors import ServerUnavailable
        from lambda_app.clients.mysql import connect
        from lambda_app.data.errors import DataLayerError
        from lambda_app.data.migrations import migrate
        from lambda_app.data.seed import DEMO_PASSWORD, seed_sizes
        from lambda_app.settings import Settings
    except ImportError as exc:
        raise OpsError(f"local seeding needs {exc.name}, which this checkout lacks") from None
    from scripts.servers import admin_settings

    try:  # as the owner when the environment names one (make env does): seeding truncates
        conn = connect(admin_settings(Settings.from_env().db, os.environ))
    except (ValueError, ServerUnavailable) as exc:  # ConfigError is a ValueError
        raise OpsError(str(exc)) from None
    try:
        applied = migrate(conn)
        report = seed_sizes(conn, options, progress=show_progress,
                            password=password or DEMO_PASSWORD)
    except DataLayerError as exc:
        raise OpsError(f"seed: {exc}") from None
    finally:
        conn.close()
    return {
        "where": "local",
        "migrations_applied": applied,
        "cache_keys_cleared": _forget_cached(),
        "products": report.products,
        "users": report.users,
        "orders": report.orders,
        "checksum": report.checksum,
        "seconds": round(report.seconds, 3),
    }


def _forget_cached() -> int | None:
    """The cached copies of the rows the seed replaced (the app's Valkey, from VALKEY_*)."""
    from lambda_app.clients.valkey import build_valkey
    from lambda_app.services.cache_admin import forget_reseeded
    from lambda_app.settings import Settings

    settings = Settings.from_env()
    client = build_valkey(settings.valkey)
    try:
        return forget_reseeded(client, settings.cache.prefix)
    finally:
        client.close()  # type: ignore[no-untyped-call]


def migrator_name(inventory: Inventory) -> str:
    """The migrator function: the stack output naming it, else the one running its handler."""
    from scripts.ops.project import MIGRATE_HANDLER, find_output

    named = find_output(inventory.outputs(), "migrator")
    if named:
        return named
    for fn in inventory.functions():
        if fn.get("Handler") == MIGRATE_HANDLER:
            return str(fn["FunctionName"])
    raise OpsError(f"no function with handler {MIGRATE_HANDLER} in the stacks: pass --function")


def invoke_migrator(
    lambda_client: Any, function: str, payload: dict[str, Any], *, show_progress: bool = True
) -> Any:
    """Invoke synchronously; a function error becomes one line naming its type."""
    with progress(
        total=None, desc=f"seed via {function}", unit="call", enabled=show_progress
    ) as bar:
        reply = lambda_client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        bar.update()
    raw = reply["Payload"].read()
    try:
        answer = json.loads(raw) if raw else None
    except ValueError:
        answer = raw.decode("utf-8", "replace")
    if reply.get("FunctionError"):  # an exception escaped the handler
        detail = (
            answer
            if not isinstance(answer, dict)
            else (f"{answer.get('errorType', 'Error')}: {answer.get('errorMessage', '')}")
        )
        raise OpsError(f"migrator {function} failed: {detail}")
    if isinstance(answer, dict) and answer.get("ok") is False:  # the handler said no
        raise OpsError(f"migrator {function} failed: {answer.get('error', 'no reason given')}")
    return answer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "seed",
        parents=[parents.aws, parents.json],
        help="apply migrations and load seed data (local, or remote via the migrator)",
        description="--local uses the DB_* environment variables; --remote invokes the "
        'environment\'s migrator function with {"action": "seed"}.',
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="seed the database named by DB_*")
    where.add_argument("--remote", action="store_true", help="seed --env through its migrator")
    for name in ("products", "users", "orders"):
        parser.add_argument(
            f"--{name}", type=positive_int, help=f"number of {name} (default: the seeder's)"
        )
    parser.add_argument(
        "--seed", dest="rng_seed", type=int, metavar="N", help="random seed for the data"
    )
    parser.add_argument("--function", help="--remote: the migrator function name or ARN")
    parser.add_argument(
        "--password", type=demo_password, metavar="TEXT",
        help="--local: the password every seeded user logs in with "
        "(default: the documented demo password)",
    )
    parser.set_defaults(run=run)


def demo_password(text: str) -> str:
    if len(text) < 12:
        raise argparse.ArgumentTypeError("expected at least 12 characters")
    return text


def run(args: argparse.Namespace) -> int:
    options = seed_options(args.products, args.users, args.orders, args.rng_seed)
    if args.local:
        result = seed_local(options, show_progress=not args.json, password=args.password)
    else:
        from scripts.ops.inventory import Inventory

        inventory = Inventory.from_args(args)
        if not args.function:
            inventory.require_stacks()
        function = args.function or migrator_name(inventory)
        payload = {"action": "seed", **options}
        answer = invoke_migrator(
            inventory.client("lambda"), function, payload, show_progress=not args.json
        )
        result = {"where": function, "result": answer}
    if args.json:
        print_json(result)
    else:
        print_text(f"seeded {result['where']}: {json.dumps(result, default=str)}")
    return EXIT_OK
