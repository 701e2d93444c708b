"""The checks ``smoke`` runs, one function per group: each sends its requests through a
``Group`` (which records outcomes and cleans up what it created) and expects what the
API contract and the caching patterns promise.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scripts.ops.http import HttpClient, Response, error_shape
from scripts.ops.smoke_expect import (
    cache_is,
    fields_match,
    find_key,
    is_error,
    items_of,
    limit_headers,
    problems,
    ranked_by_views,
    retry_after,
    sliding_refresh,
    status_is,
)

if TYPE_CHECKING:
    pass


MAX_BODY = 64 * 1024
RATE_LIMIT_SLACK = 5  # requests sent past RateLimit-Limit before giving up on a 429
RATE_LIMIT_CAP = 2000  # a limit above this cannot be exhausted in a smoke test


@dataclass(frozen=True)
class Outcome:
    group: str
    check: str
    ok: bool
    detail: str


class Abort(Exception):
    """The group cannot continue: a prerequisite failed (already recorded)."""


@dataclass
class Group:
    """One check group: its outcomes, and cleanups run at the end. Calls go out signed
    when the client signs (an operator, ``--remote``); ``as_user`` sends a bearer token
    instead, unsigned, as a logged-in user's browser would."""

    name: str
    client: HttpClient
    outcomes: list[Outcome] = field(default_factory=list)
    cleanups: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        return self.client.request(method, path, **kwargs)

    def as_user(self, token: str, method: str, path: str, **kwargs: Any) -> Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, sign=False, **kwargs)

    def expect(self, check: str, problem: str | None, passed: str = "ok") -> bool:
        self.outcomes.append(Outcome(self.name, check, problem is None, problem or passed))
        return problem is None

    def require(self, check: str, problem: str | None, passed: str = "ok") -> None:
        if not self.expect(check, problem, passed):
            raise Abort

    def delete_later(self, path: str) -> None:
        self.cleanups.append(path)


GroupFn = Callable[[Group, "Run"], None]


@dataclass(frozen=True)
class Run:
    """What every group may use: a unique tag for what it creates, the cache key prefix."""

    tag: str
    cache_prefix: str = "app"


def obj(response: Response) -> dict[str, Any]:
    """The body when it is a JSON object, else an empty dict."""
    body = response.json()
    return body if isinstance(body, dict) else {}


def created_id(group: Group, check: str, response: Response) -> int:
    """The id of a 201 response's record, or Abort."""
    ident = obj(response).get("id")
    missing = None if isinstance(ident, int) else f"no integer id: {response.describe()}"
    if not group.expect(check, problems(status_is(response, 201), missing), f"id {ident}"):
        raise Abort
    return int(ident)  # type: ignore[arg-type]


# -- the groups -------------------------------------------------------------------------


def check_health(g: Group, run: Run) -> None:
    r = g.client.get("/health")
    body = r.json()
    healthy = isinstance(body, dict) and body.get("cache") == "ok" and body.get("db") == "ok"
    g.expect(
        "GET /health -> 200, cache ok, db ok",
        problems(status_is(r, 200), None if healthy else f"body {body}"),
    )
    g.expect(
        "/health is not rate limited",
        None if r.header("RateLimit-Limit") is None else "RateLimit-Limit header on /health",
    )


def invalidate_tag(g: Group, tag: str) -> tuple[Response, Any]:
    """``POST /cache/invalidate {"tag": tag}`` and the ``deleted`` count it reports."""
    reply = g.call("POST", "/cache/invalidate", json_body={"tag": tag})
    return reply, obj(reply).get("deleted")


def check_products(g: Group, run: Run) -> None:
    """Cache-aside: MISS then HIT; tag invalidation; a write refreshes; a delete too."""
    first = {"name": f"smoke {run.tag}", "price": "19.99", "description": "smoke test"}
    pid = created_id(
        g, "POST /products -> 201 with an id", g.call("POST", "/products", json_body=first)
    )
    path, tag = f"/products/{pid}", f"product:{pid}"
    g.delete_later(path)
    reply, deleted = invalidate_tag(g, tag)  # whether or not creating cached the row
    g.expect(
        "POST /cache/invalidate {tag} -> deleted count",
        problems(status_is(reply, 200), None if isinstance(deleted, int) else f"{deleted!r}"),
    )
    r1, r2 = g.call("GET", path), g.call("GET", path)
    g.expect(
        "GET product: MISS then HIT with the data",
        problems(
            status_is(r1, 200),
            cache_is(r1, "MISS"),
            fields_match(r1.json(), first),
            status_is(r2, 200),
            cache_is(r2, "HIT"),
            fields_match(r2.json(), first),
        ),
    )
    g.expect("RateLimit-* headers on a limited route", limit_headers(r1))
    reply, deleted = invalidate_tag(g, tag)
    r3 = g.call("GET", path)
    g.expect(
        "invalidating a cached product: deleted 1, next GET is a MISS",
        problems(
            status_is(reply, 200),
            None if deleted == 1 else f"deleted {deleted!r}",
            cache_is(r3, "MISS"),
        ),
    )
    second = {"name": f"smoke {run.tag} v2", "price": 21.5}
    g.expect("PATCH product -> 200", status_is(g.call("PATCH", path, json_body=second), 200))
    r4, r5 = g.call("GET", path), g.call("GET", path)
    g.expect(
        "after PATCH the next GET has the new data, then a HIT",
        problems(
            status_is(r4, 200),
            fields_match(r4.json(), second),
            cache_is(r5, "HIT"),
            fields_match(r5.json(), second),
        ),
    )
    read = obj(r5)
    g.expect(
        "PUT takes back what GET returned -> 200",
        status_is(g.call("PUT", path, json_body={**read, "name": f"smoke {run.tag} v3"}), 200),
    )
    g.expect("DELETE product -> 204", status_is(g.call("DELETE", path), 204))
    g.cleanups.remove(path)
    g.expect("GET deleted product -> 404", is_error(g.call("GET", path), 404))


def check_top_products(g: Group, run: Run) -> None:
    top = 5
    r1, r2 = g.call("GET", f"/products?top={top}"), g.call("GET", f"/products?top={top}")
    items = items_of(r1.json())
    g.expect(
        f"GET /products?top={top} -> ranked by views",
        problems(
            status_is(r1, 200),
            ranked_by_views(items, top) if items is not None else f"no list: {r1.describe()}",
        ),
    )
    g.expect("top products query is cached (second call HIT)", cache_is(r2, "HIT"))


def check_users(g: Group, run: Run) -> None:
    """Write-through: a read right after each write is a HIT with the new data."""
    user = {"name": f"smoke {run.tag}", "email": f"smoke-{run.tag}@example.com", "age": 30}
    uid = created_id(g, "POST /users -> 201 with an id", g.call(
        "POST", "/users", json_body={**user, "password": SMOKE_PASSWORD}))
    path = f"/users/{uid}"
    g.delete_later(path)
    r = g.call("GET", path)
    g.expect(
        "read after create: HIT with the data",
        problems(status_is(r, 200), cache_is(r, "HIT"), fields_match(r.json(), user)),
    )
    change = {"name": f"smoke {run.tag} renamed", "age": 31}
    g.expect("PATCH user -> 200", status_is(g.call("PATCH", path, json_body=change), 200))
    r = g.call("GET", path)
    g.expect(
        "read after update: HIT with the new data",
        problems(status_is(r, 200), cache_is(r, "HIT"), fields_match(r.json(), change)),
    )
    g.expect("DELETE user -> 204", status_is(g.call("DELETE", path), 204))
    g.cleanups.remove(path)
    g.expect("GET deleted user -> 404", is_error(g.call("GET", path), 404))


SMOKE_PASSWORD = "smoke test password"  # noqa: S105 - for users smoke creates and deletes


def smoke_user(g: Group, run: Run, role: str) -> tuple[int, str]:
    """A new user (deleted at the end of the group) and a session token for them."""
    email = f"smoke-{role}-{run.tag}@example.com"
    user = {"name": f"smoke {role} {run.tag}", "email": email, "password": SMOKE_PASSWORD}
    uid = created_id(
        g, f"POST /users ({role}) -> 201", g.call("POST", "/users", json_body=user)
    )
    g.delete_later(f"/users/{uid}")
    r = g.client.request("POST", "/sessions", sign=False,
                         json_body={"email": email, "password": SMOKE_PASSWORD})
    body = obj(r)
    token, ttl = body.get("token"), body.get("expires_in")
    g.require(
        "POST /sessions (log in) -> 201 with token, expires_in and user_id",
        problems(
            status_is(r, 201),
            None if isinstance(token, str) and token else "no token",
            None if isinstance(ttl, int) and ttl > 0 else f"expires_in {ttl!r}",
            None if body.get("user_id") == uid else f"user_id {body.get('user_id')!r}",
        ),
        f"expires_in {ttl}",
    )
    return uid, str(token)


def check_sessions(g: Group, run: Run) -> None:
    """Log in, read your own record, sliding TTL on each read, log out; the token only
    ever in a header."""
    uid, token = smoke_user(g, run, "session")
    me = g.as_user(token, "GET", "/users/me")
    g.expect("GET /users/me -> 200 with the caller's own record",
             problems(status_is(me, 200), None if obj(me).get("id") == uid else "another id"))
    r = g.as_user(token, "GET", "/sessions/current")
    g.expect(
        "GET /sessions/current -> 200 and refreshed to the full TTL",
        problems(status_is(r, 200), sliding_refresh(1800, obj(r))),
    )
    g.expect("DELETE /sessions/current -> 204",
             status_is(g.as_user(token, "DELETE", "/sessions/current"), 204))
    gone = g.as_user(token, "GET", "/sessions/current")
    g.expect(
        "logged-out token -> 401 with WWW-Authenticate: Bearer",
        problems(is_error(gone, 401),
                 None if gone.header("WWW-Authenticate") == "Bearer" else "no challenge"),
    )
    wrong = g.client.request("POST", "/sessions", sign=False, json_body={
        "email": f"smoke-session-{run.tag}@example.com", "password": "not the password!"})
    g.expect("wrong password -> 401", is_error(wrong, 401))


def check_dashboard(g: Group, run: Run) -> None:
    r1, r2 = g.call("GET", "/stats/dashboard"), g.call("GET", "/stats/dashboard")
    g.expect(
        "GET /stats/dashboard -> 200 object",
        problems(status_is(r1, 200), None if isinstance(r1.json(), dict) else "not an object"),
    )
    g.expect("dashboard aggregate is cached (second call HIT)", cache_is(r2, "HIT"))


def check_cache_admin(g: Group, run: Run) -> None:
    r = g.call("POST", "/cache/warm", json_body={"products_top": 3})
    body = obj(r)
    g.expect(
        "POST /cache/warm -> warmed and seconds",
        problems(
            status_is(r, 200),
            None if isinstance(body.get("warmed"), int) else f"warmed {body.get('warmed')!r}",
            None if isinstance(body.get("seconds"), int | float) else "no seconds",
        ),
        f"warmed {body.get('warmed')}",
    )
    hottest = items_of(g.call("GET", "/products?top=1").json()) or [{}]
    if isinstance(hottest[0], dict) and isinstance(hottest[0].get("id"), int):
        g.expect(
            "after warming, the top product is a HIT",
            cache_is(g.call("GET", f"/products/{hottest[0]['id']}"), "HIT"),
        )
    absent = f"product:smoke-absent-{run.tag}"
    for selector in ({"key": absent}, {"pattern": f"{absent}*"}):
        r = g.call("POST", "/cache/invalidate", json_body=selector)
        deleted = obj(r).get("deleted")
        g.expect(
            f"POST /cache/invalidate {next(iter(selector))} of nothing -> deleted 0",
            problems(status_is(r, 200), None if deleted == 0 else f"deleted {deleted!r}"),
        )
    for selector in ({}, {"key": absent, "tag": "product:1"}):
        g.expect(
            f"POST /cache/invalidate {json.dumps(selector)} -> 400",
            is_error(g.call("POST", "/cache/invalidate", json_body=selector), 400),
        )
    r = g.call("GET", "/cache/stats")
    stats = r.json()
    g.expect(
        "GET /cache/stats -> hits, misses, hit_ratio, maxmemory-policy",
        problems(
            status_is(r, 200),
            *(None if find_key(stats, k) else f"no {k}" for k in ("hits", "misses", "hit_ratio")),
            None
            if find_key(stats, "maxmemory_policy") or find_key(stats, "maxmemory-policy")
            else "no maxmemory policy",
        ),
    )


def check_errors(g: Group, run: Run) -> None:
    unknown = f"/products/{random.randint(1_900_000_000, 2_100_000_000)}"
    r1, r2 = g.call("GET", unknown), g.call("GET", unknown)
    g.expect(
        "unknown product -> 404, negative-cached (second read a HIT)",
        problems(is_error(r1, 404), is_error(r2, 404), cache_is(r2, "HIT")),
    )
    g.expect(
        "id not a positive integer -> 400",
        problems(*(is_error(g.call("GET", f"/products/{bad}"), 400) for bad in ("abc", "0", "-1"))),
    )
    g.expect(
        "unknown route -> 404 JSON error", is_error(g.call("GET", f"/no-such-route-{run.tag}"), 404)
    )
    g.expect(
        "malformed JSON -> 400", is_error(g.call("POST", "/products", body=b'{"name": "x",'), 400)
    )
    big = b'{"name": "' + b"x" * (MAX_BODY + 1024) + b'"}'
    g.expect("body over 64 KB -> 413", is_error(g.call("POST", "/products", body=big), 413))


def check_rate_limit(g: Group, run: Run) -> None:
    """A user of its own (a verified caller) sends requests until 429, at most
    RateLimit-Limit + 5; the operator's own allowance is not spent."""
    _, token = smoke_user(g, run, "limited")

    def call(method: str, path: str) -> Response:
        return g.as_user(token, method, path)

    first = call("GET", "/products?top=1")
    g.require("RateLimit-* headers", limit_headers(first))
    limit = int(first.header("RateLimit-Limit") or 0)
    g.require(
        f"RateLimit-Limit {limit} small enough to exhaust",
        None if limit <= RATE_LIMIT_CAP else f"limit {limit} > {RATE_LIMIT_CAP}",
    )
    remaining = [int(first.header("RateLimit-Remaining") or 0)]
    last, sent = first, 1
    while sent < limit + RATE_LIMIT_SLACK and last.status != 429:
        last = call("GET", "/products?top=1")
        sent += 1
        if last.status != 429 and last.header("RateLimit-Remaining") is not None:
            remaining.append(int(last.header("RateLimit-Remaining") or 0))
    g.require(
        "429 past the limit", status_is(last, 429), f"429 after {sent} requests (limit {limit})"
    )
    g.expect(
        "429 carries Retry-After and the error shape",
        problems(retry_after(last), error_shape(last)),
    )
    g.expect(
        "RateLimit-Remaining counts down",
        None
        if remaining == sorted(remaining, reverse=True)
        else f"remaining went {remaining[:10]}...",
    )


