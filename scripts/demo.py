"""``make demo``: every caching pattern, live, over HTTP against the real handler.

Walks through the patterns, starting the way a cache-aside demo does (first call slow,
second fast, invalidate, slow again), and adds the rest: negative caching, the
cached top-N query and dashboard aggregate, write-through read-after-write, sessions
with a sliding TTL, rate limiting until 429, and warming. Every call prints its status,
``X-Cache`` and wall time.

Setup: the migrations are applied, and the seed loaded when the products table is empty,
in the database the environment names (``make demo`` exports the local stack's
settings). The API is the very handler Lambda runs, served with ``scripts.serve`` on
``127.0.0.1:$PORT`` (8080) or, if that port is taken, on a free one; an API already
answering on ``$PORT`` is reused.

Afterwards it keeps serving until Ctrl-C when stdin is a terminal; otherwise (CI, pipes)
it prints how to start the server and exits 0, so it never hangs.

    python -m scripts.demo [--port 8080] [--no-serve]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scripts.ops.http import HttpClient, HttpError

DEFAULT_PORT = 8080
CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    ms: float

    @property
    def cache(self) -> str:
        return self.headers.get("x-cache", "-")


#: The password the demo gives the users it creates (seeded users have DEMO_PASSWORD).
DEMO_USER_PASSWORD = "demo user password"  # noqa: S105


class Api:
    """The ops CLI's HTTP client (``scripts/ops/http.py``), printing one line per call."""

    def __init__(self, host: str, port: int, *, token: str | None = None) -> None:
        self.host, self.port = host, port
        self.token = token
        self._client = HttpClient(self.url, timeout=CALL_TIMEOUT)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def with_token(self, token: str) -> Api:
        """The same API as the user of a session (``Authorization: Bearer``)."""
        return Api(self.host, self.port, token=token)

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, body: Any = None, *, quiet: bool = False) -> Reply:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self._client.request(method, path, json_body=body, headers=headers)
        reply = Reply(
            status=response.status,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=_json(response.body),
            ms=response.seconds * 1000,
        )
        if not quiet:
            print(f"    {method:6} {path:<34} -> {reply.status}  X-Cache {reply.cache:<4} "
                  f"{reply.ms:8.2f} ms")
        return reply


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def step(title: str) -> None:
    print(f"\n== {title}")


def note(text: str) -> None:
    print(f"    {text}")


def _brief(value: Any, width: int = 110) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


# -- setup ------------------------------------------------------------------------------


def prepare_database() -> None:
    """Migrations always (idempotent); the seed only when there are no products."""
    from lambda_app.clients.mysql import connect
    from lambda_app.data.bootstrap import ensure_ready
    from lambda_app.settings import get_settings

    conn = connect(get_settings().db)
    try:
        note(ensure_ready(conn, progress=sys.stderr.isatty()).describe())
    finally:
        conn.close()


def _answers(host: str, port: int) -> bool:
    """An API of ours already listens there (its /health has the contract's keys)."""
    try:
        api = Api(host, port)
        reply = api.call("GET", "/health", quiet=True)
        api.close()
    except HttpError:
        return False
    return isinstance(reply.body, dict) and {"cache", "db"} <= set(reply.body)


@contextmanager
def api_server(host: str, port: int, operator: str) -> Iterator[tuple[Api, Any]]:
    """Reuse an API on ``port``, else serve the handler there (or on a free port), with
    every request signed by ``operator`` as ``make serve`` signs them."""
    if _answers(host, port):
        note(f"reusing the API already running at http://{host}:{port}")
        yield Api(host, port), None
        return
    from lambda_app.handlers.api import handler
    from scripts.serve import start_in_thread

    try:
        server, _thread = start_in_thread(handler, host, port, principal=operator)
    except OSError:
        server, _thread = start_in_thread(handler, host, 0, principal=operator)
    actual = int(server.server_address[1])
    note(f"serving lambda_app.handlers.api:handler at http://{host}:{actual}")
    try:
        yield Api(host, actual), server
    finally:
        server.shutdown()
        server.server_close()


# -- the walk-through -------------------------------------------------------------------


def cache_aside(api: Api, product_id: int) -> None:
    step(f"1. Cache-aside (lazy loading) for product {product_id}")
    key = f"product:{product_id}"  # relative to the app's CACHE_PREFIX
    api.call("POST", "/cache/invalidate", {"key": key}, quiet=True)  # start cold
    note("first call: cache MISS, loaded from MySQL and stored with a TTL")
    first = api.call("GET", f"/products/{product_id}")
    note("second call: cache HIT, served from Valkey")
    second = api.call("GET", f"/products/{product_id}")
    note(f"product: {_brief(second.body)}")
    note(f"MISS {first.ms:.2f} ms vs HIT {second.ms:.2f} ms")
    note(f"invalidate the key {key}")
    deleted = api.call("POST", "/cache/invalidate", {"key": key})
    note(f"deleted {deleted.body}")
    note("third call: MISS again after the invalidation")
    api.call("GET", f"/products/{product_id}")


def negative_caching(api: Api) -> None:
    step("2. Negative caching: an unknown id is remembered as 'not found'")
    missing = 2_000_000_000 + int(time.time()) % 100_000
    api.call("GET", f"/products/{missing}")
    api.call("GET", f"/products/{missing}")
    note("the second 404 came from the cache (X-Cache HIT): no database query")


def cached_queries(api: Api) -> None:
    step("3. Cached query results: top products by views, and the 24 h dashboard")
    # every cached ranking carries the version of one group: a tag bumps it in O(1)
    api.call("POST", "/cache/invalidate", {"tag": "query:top_products"}, quiet=True)
    api.call("POST", "/cache/invalidate", {"key": "dashboard:stats"}, quiet=True)
    first = api.call("GET", "/products?top=5")
    api.call("GET", "/products?top=5")
    items = first.body.get("items", []) if isinstance(first.body, dict) else []
    for item in items[:5]:
        note(f"  #{item.get('id'):<6} {item.get('views'):>9} views  {item.get('name')}")
    slow = api.call("GET", "/stats/dashboard")
    fast = api.call("GET", "/stats/dashboard")
    note(f"dashboard: {_brief(fast.body)}")
    note(f"aggregate MISS {slow.ms:.2f} ms vs HIT {fast.ms:.2f} ms")


def write_through(api: Api, tag: str) -> None:
    step("4. Write-through: a read right after a write is a HIT with the new data")
    created = api.call("POST", "/users",
                       {"name": f"Demo {tag}", "email": f"demo-{tag}@example.com", "age": 33,
                        "password": DEMO_USER_PASSWORD})
    if created.status != 201 or not isinstance(created.body, dict):
        note(f"could not create a user: {_brief(created.body)}")
        return
    uid = created.body["id"]
    read = api.call("GET", f"/users/{uid}")
    note(f"after create: {_brief(read.body)}")
    api.call("PATCH", f"/users/{uid}", {"name": f"Demo {tag} renamed", "age": 34})
    read = api.call("GET", f"/users/{uid}")
    note(f"after update: {_brief(read.body)}")
    api.call("DELETE", f"/users/{uid}")
    api.call("GET", f"/users/{uid}")

    step("5. Product update: the cached entry is refreshed, the next read has new data")
    product = api.call("POST", "/products",
                       {"name": f"Demo widget {tag}", "price": 19.99, "description": "demo"})
    if product.status != 201 or not isinstance(product.body, dict):
        note(f"could not create a product: {_brief(product.body)}")
        return
    pid = product.body["id"]
    api.call("GET", f"/products/{pid}")
    api.call("PATCH", f"/products/{pid}", {"price": 24.5})
    after = api.call("GET", f"/products/{pid}")
    note(f"price now {after.body.get('price') if isinstance(after.body, dict) else '?'}")
    api.call("DELETE", f"/products/{pid}")


def sessions(api: Api, tag: str) -> None:
    step("6. Sessions: log in, bearer token, 30 min sliding TTL, log out")
    email = f"session-{tag}@example.com"
    owner = api.call("POST", "/users",
                     {"name": f"Session {tag}", "email": email, "password": DEMO_USER_PASSWORD},
                     quiet=True)
    if owner.status != 201 or not isinstance(owner.body, dict):
        note(f"could not create the session owner: {_brief(owner.body)}")
        return
    wrong = api.call("POST", "/sessions", {"email": email, "password": "not the password"})
    note(f"wrong password: {wrong.status} {_brief(wrong.body)}")
    token = log_in(api, email, DEMO_USER_PASSWORD)
    if token:
        user = api.with_token(token)
        try:
            seen = user.call("GET", "/sessions/current")
            note(f"validated (TTL refreshed): {_brief(seen.body)}")
            user.call("DELETE", "/sessions/current")
            gone = user.call("GET", "/sessions/current")
            note(f"after logout: {gone.status} {_brief(gone.body)}")
        finally:
            user.close()
    api.call("DELETE", f"/users/{owner.body['id']}", quiet=True)


def log_in(api: Api, email: str, password: str) -> str | None:
    created = api.call("POST", "/sessions", {"email": email, "password": password})
    token = created.body.get("token") if isinstance(created.body, dict) else None
    if not token:
        note(f"no token: {_brief(created.body)}")
        return None
    note(f"token {token[:6]}... (shown once), expires_in {created.body.get('expires_in')} s")
    return str(token)


def rate_limiting(api: Api, tag: str) -> None:
    step("7. Rate limiting: one logged-in user until 429 (X-Api-Key would not help)")
    email = f"limited-{tag}@example.com"
    owner = api.call("POST", "/users", {"name": f"Limited {tag}", "email": email,
                                         "password": DEMO_USER_PASSWORD}, quiet=True)
    token = log_in(api, email, DEMO_USER_PASSWORD) if owner.status == 201 else None
    if not token:
        return
    caller = api.with_token(token)
    try:
        first = caller.call("GET", "/products?top=1", quiet=True)
        limit = int(first.headers.get("ratelimit-limit", "0") or 0)
        note(f"RateLimit-Limit {limit}, window reset in "
             f"{first.headers.get('ratelimit-reset')} s")
        last, sent = first, 1
        while last.status != 429 and sent < limit + 5:
            last = caller.call("GET", "/products?top=1", quiet=True)
            sent += 1
            remaining = last.headers.get("ratelimit-remaining")
            if sent % max(1, limit // 5) == 0 or last.status == 429:
                note(f"  request {sent:>4}: {last.status}  RateLimit-Remaining {remaining}")
        if last.status == 429:
            note(f"429 after {sent} requests, Retry-After {last.headers.get('retry-after')} s: "
                 f"{_brief(last.body)}")
        else:
            note(f"no 429 after {sent} requests (limit {limit})")
    finally:
        caller.close()
        api.call("DELETE", f"/users/{owner.body['id']}", quiet=True)


def warming(api: Api) -> None:
    step("8. Cache warming: load the top 100 products before anyone asks")
    cleared = api.call("POST", "/cache/invalidate", {"pattern": "product:*"})
    note(f"cleared {cleared.body}")
    warmed = api.call("POST", "/cache/warm", {"products_top": 100})
    note(f"warmed {_brief(warmed.body)}")
    top = api.call("GET", "/products?top=1", quiet=True)
    items = top.body.get("items", []) if isinstance(top.body, dict) else []
    if items:
        api.call("GET", f"/products/{items[0]['id']}")
        note("the most viewed product is a HIT on its very first request")


def stats(api: Api) -> None:
    step("9. Cache statistics")
    reply = api.call("GET", "/cache/stats")
    body = reply.body if isinstance(reply.body, dict) else {}
    classes = body.get("classes", {})
    for name, figures in sorted(classes.items()):
        if isinstance(figures, dict) and (figures.get("hits") or figures.get("misses")):
            ratio = figures.get("hit_ratio")
            shown = f"{ratio:.0%}" if isinstance(ratio, int | float) else "-"
            note(f"  {name:<10} hits {figures.get('hits', 0):>5}  misses "
                 f"{figures.get('misses', 0):>5}  hit ratio {shown}")
    note(f"server: {_brief(body.get('server'))}")
    note(f"maxmemory-policy: {body.get('maxmemory_policy')}")


def walk(api: Api, tag: str) -> None:
    step("0. Health")
    api.call("GET", "/health")
    top = api.call("GET", "/products?top=1", quiet=True)
    items = top.body.get("items", []) if isinstance(top.body, dict) else []
    product_id = int(items[0]["id"]) if items else 1
    cache_aside(api, product_id)
    negative_caching(api)
    cached_queries(api)
    write_through(api, tag)
    sessions(api, tag)
    rate_limiting(api, tag)
    warming(api)
    stats(api)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
    parser.add_argument("--no-serve", action="store_true",
                        help="exit after the walk-through even on a terminal")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65_535:
        parser.error(f"--port: expected 0-65535, got {args.port}")

    from lambda_app.clients.errors import ServerUnavailable
    from lambda_app.config_types import ConfigError

    step("Setup")
    try:
        prepare_database()
    except (ConfigError, ServerUnavailable) as exc:
        print(f"demo: {exc}\n  start the local servers first: make up", file=sys.stderr)
        return 1
    tag = uuid.uuid4().hex[:8]
    # Its own operator per run: a second demo within the window is not rate limited.
    operator = f"arn:aws:iam::000000000000:user/demo-{tag}"
    with api_server(args.host, args.port, operator) as (api, server):
        try:
            walk(api, tag)
        except HttpError as exc:
            print(f"demo: the API stopped answering: {exc}", file=sys.stderr)
            return 1
        finally:
            api.close()
        print()
        if server is None:
            print(f"The API keeps running at {api.url} (docs: {api.url}/docs).")
            return 0
        if sys.stdin.isatty() and not args.no_serve:
            print(f"Serving at {api.url} (docs: {api.url}/docs). Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\nstopped")
        else:
            print(f"Demo done. To keep the API running: make serve  (serves on "
                  f"127.0.0.1:{DEFAULT_PORT}, docs at /docs; make serve PORT=N for another port)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
