"""``warm``: pre-load the hottest products through the API (``POST /cache/warm``).

Warming goes through the API rather than straight into Valkey so the entries are built
by the same code, keys and TTLs as a normal read would build them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from scripts.ops.argtypes import base_url, positive_int
from scripts.ops.errors import EXIT_OK, OpsError
from scripts.ops.http import HttpClient, Response, http_client
from scripts.ops.output import print_json, print_text

if TYPE_CHECKING:
    from scripts.ops.parents import Parents


def api_failure(response: Response) -> OpsError:
    """The API's own error code and message, as one line."""
    body = response.json()
    if isinstance(body, dict) and "error" in body:
        return OpsError(
            f"{response.method} {response.path} -> {response.status} "
            f"{body.get('error')}: {body.get('message', '')}".rstrip(": ")
        )
    return OpsError(response.describe())


def warm(client: HttpClient, top: int) -> dict[str, Any]:
    reply = client.post("/cache/warm", json_body={"products_top": top})
    body = reply.json()
    if reply.status != 200 or not isinstance(body, dict) or "warmed" not in body:
        raise api_failure(reply)
    return body


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "warm",
        parents=[parents.http, parents.json],
        help="warm the cache with the top products through the API",
        description='POST /cache/warm {"products_top": N} and print what was warmed.',
    )
    parser.add_argument("base_url", metavar="BASE_URL", type=base_url, help="API base URL")
    parser.add_argument(
        "--top", type=positive_int, default=100, help="how many top products (default: 100)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    client = http_client(args)
    try:
        body = warm(client, args.top)
    finally:
        client.close()
    if args.json:
        print_json(body)
    else:
        print_text(f"warmed {body.get('warmed')} entries in {body.get('seconds')} s")
    return EXIT_OK
