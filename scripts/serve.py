"""Serve the Lambda API handler over plain HTTP on loopback, unchanged.

Each request becomes an API Gateway HTTP API (payload 2.0) event and the handler's
result goes back as the HTTP response, so what runs here is byte for byte what runs in
Lambda: no framework, no second implementation of the routes.

    python -m scripts.serve --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripts.lambda_events import (
    LOCAL_OPERATOR_ARN,
    LambdaContext,
    build_event,
    is_loopback,
    local_principal,
    response_parts,
)

__all__ = ["LOCAL_OPERATOR_ARN", "LambdaContext", "build_event", "response_parts"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

#: One handler invocation at a time in this process, as in a Lambda environment.
ONE_AT_A_TIME = threading.Lock()
#: API Gateway's own payload ceiling; the handler applies the app's smaller limit.
MAX_BODY_BYTES = 10 * 1024 * 1024


def make_request_handler(
    handler: Handler,
    *,
    principal: str | None = None,
    sigv4: bool = False,
    region: str | None = None,
) -> type[BaseHTTPRequestHandler]:
    """``principal``: whom every unsigned-looking request counts as signed by (the local
    operator; None: anonymous). ``sigv4``: verify signatures instead, as API Gateway
    does, against the local key pair (:mod:`scripts.local_sigv4`).

    Requests are read and answered on threads, but handed to ``handler`` one at a time
    (per process, whatever the number of servers): Lambda never runs two invocations in
    one environment, and the handler (Powertools' current event, correlation id, pending
    metrics) relies on it."""
    class LambdaProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # What a request line too broken to name its version is answered as: HTTP/0.9
        # (http.server's default) would send the error body with no status line at all.
        default_request_version = "HTTP/1.0"
        server_version = "lambda-local"
        # Headers and body leave in two writes; with Nagle on, each keep-alive response
        # waits ~40 ms for the client's delayed ACK.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            try:
                body = self._read_body()
            except _BadBody as exc:
                self._send_json(exc.status, exc.code, exc.message)
                self.close_connection = True
                return
            event = build_event(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                host=self.headers.get("Host", "127.0.0.1"),
                principal=self._principal(body),
            )
            try:
                with ONE_AT_A_TIME:
                    result = handler(event, LambdaContext())
            except Exception as exc:  # the handler must never raise; say so loudly
                print(f"serve: handler raised {type(exc).__name__}: {exc}", file=sys.stderr)
                result = {
                    "statusCode": 502,
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"error": "bad_gateway", "message": "handler failed"}),
                }
            self._send(*response_parts(result))

        def _principal(self, body: bytes) -> str | None:
            if not sigv4:
                return local_principal(
                    principal, self.client_address[0], self.headers.get("Authorization")
                )
            from scripts.local_sigv4 import DEFAULT_REGION, verify

            host = self.headers.get("Host", "127.0.0.1")
            headers = {name.lower(): value for name, value in self.headers.items()}
            return verify(method=self.command, url=f"http://{host}{self.path}",
                          headers=headers, body=body, region=region or DEFAULT_REGION)

        def _read_body(self) -> bytes:
            """The request body, by Content-Length or chunked transfer coding."""
            coding = self.headers.get("Transfer-Encoding", "").strip().lower()
            if coding and coding != "identity":
                if coding != "chunked":
                    raise _BadBody(501, "not_implemented",
                                   f"transfer coding {coding!r} is not supported")
                return self._read_chunked()
            raw_length = (self.headers.get("Content-Length") or "0").strip()
            if not raw_length.isdigit():
                raise _BadBody(400, "malformed_request", "Content-Length must be a number")
            length = int(raw_length)
            if length > MAX_BODY_BYTES:
                raise _BadBody(413, "payload_too_large", "request body over 10 MB")
            return self.rfile.read(length) if length else b""

        def _read_chunked(self) -> bytes:
            body = bytearray()
            while True:
                line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise _BadBody(400, "malformed_request", "bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields, ignored
                    return bytes(body)
                if len(body) + size > MAX_BODY_BYTES:
                    raise _BadBody(413, "payload_too_large", "request body over 10 MB")
                body += self.rfile.read(size)
                self.rfile.readline(1024)  # the CRLF after each chunk

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's own refusals (bad request line, header too long) in the API's
            error shape, with the body encoded by json rather than %-formatting."""
            self.close_connection = True
            text = message or HTTPStatus(code).phrase
            with contextlib.suppress(OSError):  # the client may be gone already
                self._send_json(code, f"http_{code}", text)

        def _send_json(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": code, "message": message}).encode()
            self._send(status, [("Content-Type", "application/json")], body)

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (ConnectionResetError, BrokenPipeError, TimeoutError) as exc:
                # A client that goes away is not a server error: one line, no traceback.
                self.close_connection = True
                if not self.server.quiet:  # type: ignore[attr-defined]
                    sys.stderr.write(f"{self.address_string()} disconnected: "
                                     f"{type(exc).__name__}\n")

        def __getattr__(self, name: str) -> Any:
            # Every method reaches the handler, which answers 405 with Allow (TRACE too).
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)


        def log_message(self, format: str, *args: Any) -> None:
            if self.server.quiet:  # type: ignore[attr-defined]
                return
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return LambdaProxy


class _BadBody(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    quiet = False


def load_handler(spec: str) -> Handler:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attr or "handler")
    return handler


def start_in_thread(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    quiet: bool = True,
    principal: str | None = LOCAL_OPERATOR_ARN,
    sigv4: bool = False,
    region: str | None = None,
) -> tuple[LocalServer, threading.Thread]:
    """Serve in a background thread (tests); port 0 picks a free one."""
    server = LocalServer(
        (host, port),
        make_request_handler(handler, principal=principal, sigv4=sigv4, region=region),
    )
    server.quiet = quiet
    thread = threading.Thread(target=server.serve_forever, name="api-local", daemon=True)
    thread.start()
    return server, thread


def check_settings() -> str | None:
    """What is wrong with the environment's settings, before anything listens: a server
    that prints "serving" and then answers 500 to everything helps nobody."""
    from lambda_app.config_types import ConfigError
    from lambda_app.settings import get_settings

    try:
        get_settings()
    except ConfigError as exc:
        return f"invalid setting {exc}"
    return None


def prepare_database() -> None:
    """Migrate, and seed an empty database, as ``make demo`` does: as the database's owner
    when the environment names one (``DB_ADMIN_USER``, as ``make env`` does), who then
    grants the serving user (``DB_USER``) the tables, as the migrator does on AWS. A
    database that does not answer is reported, not fatal: the API answers 503 until it
    does."""
    from lambda_app.clients.errors import DatabaseUnavailable
    from lambda_app.clients.mysql import connect
    from lambda_app.data.app_user import ensure_app_user
    from lambda_app.data.bootstrap import ensure_ready
    from lambda_app.settings import get_settings
    from scripts.servers import admin_settings

    serving = get_settings().db
    owner = admin_settings(serving, os.environ)
    try:
        conn = connect(owner)
    except DatabaseUnavailable as exc:
        print(f"serve: database not prepared: {exc}", file=sys.stderr)
        return
    try:
        print(f"database: {ensure_ready(conn, progress=sys.stderr.isatty()).describe()}",
              flush=True)
        if owner.user != serving.user and serving.user and serving.password:
            ensure_app_user(conn, username=serving.user, password=serving.password,
                            database=serving.name)
    finally:
        conn.close()


def _mode(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[bool, str]:
    """Whether loopback callers are the local operator, and the region SigV4 must name;
    a usage error for a combination that would expose the operator on a network."""
    operator_mode = not (args.anonymous or args.sigv4)
    if operator_mode and not is_loopback(args.host) and not args.operator_on_network:
        parser.error(
            f"--host {args.host} is not loopback, and the default mode makes loopback "
            "clients operators: add --sigv4 (signatures, as on AWS) or --anonymous, or "
            "--operator-on-network to accept it"
        )
    if args.region is not None and not args.sigv4:
        parser.error("--region goes with --sigv4")
    from scripts.local_sigv4 import DEFAULT_REGION

    return operator_mode, args.region or os.environ.get("AWS_REGION") or DEFAULT_REGION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--handler", default="lambda_app.handlers.api:handler", help="module:function"
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--anonymous", action="store_true",
        help="treat requests as unsigned, as the deployed API does without SigV4 "
        "(default: every request from loopback comes from the local operator)",
    )
    who.add_argument(
        "--sigv4", action="store_true",
        help="verify SigV4 signatures as the deployed API does, by the local key pair "
        "(printed at start; default: every request from loopback comes from the local "
        "operator)",
    )
    parser.add_argument(
        "--region", default=None,
        help="with --sigv4: the region signatures must name (default: AWS_REGION, else "
        "us-east-1)",
    )
    parser.add_argument(
        "--operator-on-network", action="store_true",
        help="allow listening on a non-loopback --host in the default operator mode "
        "(network clients stay anonymous; loopback clients are operators)",
    )
    parser.add_argument(
        "--no-prepare", dest="prepare", action="store_false",
        help="do not migrate the database or seed an empty one before serving",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65_535:
        parser.error(f"--port: expected 0-65535, got {args.port}")
    operator_mode, region = _mode(parser, args)
    problem = check_settings()
    if problem:
        print(f"serve: {problem}", file=sys.stderr)
        return 2
    if args.prepare:
        prepare_database()
    try:
        handler = load_handler(args.handler)
    except Exception as exc:
        print(f"serve: cannot load {args.handler}: {exc}", file=sys.stderr)
        return 1
    try:
        principal = LOCAL_OPERATOR_ARN if operator_mode else None
        server = LocalServer(
            (args.host, args.port),
            make_request_handler(
                handler, principal=principal, sigv4=args.sigv4, region=region
            ),
        )
    except OSError as exc:
        print(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    server.quiet = args.quiet
    url = f"http://{args.host}:{server.server_address[1]}"
    if principal:
        print(f"auth: requests from loopback count as SigV4-signed by {principal}; "
              "others are anonymous (make serve-sigv4 verifies signatures as the "
              "deployed API does)", flush=True)
    elif args.sigv4:
        print("auth: sigv4 - operator routes need a SigV4 signature (service execute-api, "
              f"region {region}) by the local key pair:", flush=True)
        from scripts.local_sigv4 import describe_key_pair

        print(describe_key_pair(), flush=True)
    else:
        print("auth: anonymous - every operator route answers 403", flush=True)
    print(f"serving {args.handler} at {url}  (docs: {url}/docs, Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
