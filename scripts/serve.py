"""Serve the Lambda API handler over plain HTTP on loopback, unchanged.

Each request becomes an API Gateway HTTP API (payload 2.0) event and the handler's
result goes back as the HTTP response, so what runs here is byte for byte what runs in
Lambda: no framework, no second implementation of the routes.

    python -m scripts.serve --port 8080
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

#: API Gateway's own payload ceiling; the handler applies the app's smaller limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a real Lambda context."""

    function_name: str = "api-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:api-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/api-local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
) -> dict[str, Any]:
    """An HTTP API v2 event, as API Gateway would send it."""
    parts = urlsplit(target)
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    content_type = merged.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    try:
        text = body.decode() if is_text else None
    except UnicodeDecodeError:
        text = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": merged,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def response_parts(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes from a handler's v2 response."""
    status = int(result.get("statusCode", 200))
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return status, headers, body


def make_request_handler(handler: Handler) -> type[BaseHTTPRequestHandler]:
    class LambdaProxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "lambda-local"
        # Headers and body leave in two writes; with Nagle on, each keep-alive response
        # waits ~40 ms for the client's delayed ACK.
        disable_nagle_algorithm = True
        # http.server's own refusals (bad request line, URI too long, unknown method)
        # answer in the API's error shape instead of HTML.
        error_content_type = "application/json"
        error_message_format = '{"error": "http_%(code)d", "message": "%(message)s"}'

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(413, [("Content-Type", "application/json")], json.dumps(
                    {"error": "payload_too_large", "message": "request body over 10 MB"}
                ).encode())
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            event = build_event(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                host=self.headers.get("Host", "127.0.0.1"),
            )
            try:
                result = handler(event, LambdaContext())
            except Exception as exc:  # the handler must never raise; say so loudly
                print(f"serve: handler raised {type(exc).__name__}: {exc}", file=sys.stderr)
                result = {
                    "statusCode": 502,
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"error": "bad_gateway", "message": "handler failed"}),
                }
            self._send(*response_parts(result))

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            if self.server.quiet:  # type: ignore[attr-defined]
                return
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return LambdaProxy


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    quiet = False


def load_handler(spec: str) -> Handler:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attr or "handler")
    return handler


def start_in_thread(
    handler: Handler, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
) -> tuple[LocalServer, threading.Thread]:
    """Serve in a background thread (tests); port 0 picks a free one."""
    server = LocalServer((host, port), make_request_handler(handler))
    server.quiet = quiet
    thread = threading.Thread(target=server.serve_forever, name="api-local", daemon=True)
    thread.start()
    return server, thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument(
        "--handler", default="lambda_app.handlers.api:handler", help="module:function"
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65_535:
        parser.error(f"--port: expected 0-65535, got {args.port}")
    try:
        handler = load_handler(args.handler)
    except Exception as exc:
        print(f"serve: cannot load {args.handler}: {exc}", file=sys.stderr)
        return 1
    try:
        server = LocalServer((args.host, args.port), make_request_handler(handler))
    except OSError as exc:
        print(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    server.quiet = args.quiet
    url = f"http://{args.host}:{server.server_address[1]}"
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
