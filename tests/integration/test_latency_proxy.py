"""``bench.latency_proxy.DelayProxy``: bytes through unchanged and in order, delayed, bounded.

The benchmark's through-the-proxy figures are only worth something if the proxy changes
nothing but the timing: these tests push raw bytes through it to a loopback echo peer
and real Valkey traffic (large values, pipelines) to the fixture server. Elapsed times
are asserted as lower bounds only (the configured delay must be paid; how much more a
shared machine adds is not a behaviour).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bench.latency_proxy import DelayProxy, measure_rtt
from scripts import servers

pytestmark = pytest.mark.integration

WAIT_SECONDS = 10.0  # generous bound for things that must happen "soon"


@contextlib.contextmanager
def echo_server() -> Iterator[tuple[str, int]]:
    """A loopback TCP peer that sends back what it reads and closes at end of stream."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT_SECONDS)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65_536):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield "127.0.0.1", listener.getsockname()[1]
    finally:
        listener.close()


def exchange(address: tuple[str, int], chunks: list[bytes]) -> bytes:
    """Send ``chunks`` (one ``sendall`` each), half-close, return all that comes back
    until the other side closes (or cuts the connection)."""
    with socket.create_connection(address, timeout=WAIT_SECONDS) as sock:
        sender = threading.Thread(target=send_all, args=(sock, chunks), daemon=True)
        sender.start()
        received = bytearray()
        with contextlib.suppress(ConnectionError):
            while data := sock.recv(65_536):
                received += data
        sender.join(WAIT_SECONDS)
    return bytes(received)


def send_all(sock: socket.socket, chunks: list[bytes]) -> None:
    with contextlib.suppress(ConnectionError):  # a proxy over its byte limit cuts us off
        for chunk in chunks:
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)


def wait_until_stopped(proxy: DelayProxy) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not proxy.stopped and time.monotonic() < deadline:
        time.sleep(0.01)


def refused(address: tuple[str, int]) -> bool:
    """True if a new connection is refused, or accepted and closed without an answer."""
    try:
        with socket.create_connection(address, timeout=WAIT_SECONDS) as sock:
            sock.sendall(b"?")
            return sock.recv(1) == b""
    except TimeoutError:
        return False  # nobody answered, nobody closed: not a refusal
    except ConnectionError:
        return True


@pytest.fixture
def proxied_valkey(valkey_server):
    """A bytes client for the fixture server, through a proxy adding 1 ms each way."""
    with DelayProxy(valkey_server.host, valkey_server.port, one_way_ms=1.0) as (_, port):
        client = servers.valkey_client(dataclasses.replace(valkey_server, port=port))
        client.flushall()
        yield client
        client.close()


# --------------------------------------------------------------------------- bytes


def test_bytes_pass_through_unchanged_and_in_order():
    # 4 MiB of random bytes in 2,000 sends of uneven sizes: many chunks in flight at once,
    # each held back independently, and the echo must still be byte-for-byte the input.
    payload = os.urandom(4 << 20)
    cuts = sorted({0, len(payload), *(int.from_bytes(os.urandom(3)) % len(payload)
                                      for _ in range(2_000))})
    chunks = [payload[a:b] for a, b in itertools.pairwise(cuts)]
    with echo_server() as target, DelayProxy(*target, one_way_ms=0.5) as address:
        assert exchange(address, chunks) == payload


def test_several_connections_stay_separate():
    with echo_server() as target, DelayProxy(*target, one_way_ms=0.5) as address:
        results: dict[int, bytes] = {}
        messages = {n: bytes([n]) * (100_000 + n) for n in range(4)}

        def talk(n: int) -> None:
            results[n] = exchange(address, [messages[n]])

        threads = [threading.Thread(target=talk, args=(n,)) for n in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
    assert results == messages


def test_valkey_values_and_pipelines_survive_the_proxy(proxied_valkey):
    big = os.urandom(3 << 20)  # larger than any socket buffer: many chunks
    proxied_valkey.set("big", big)
    assert proxied_valkey.get("big") == big

    pipe = proxied_valkey.pipeline(transaction=False)
    for i in range(2_000):
        pipe.set(f"k{i}", f"v{i}")
        pipe.get(f"k{i}")
    replies = pipe.execute()
    assert replies[1::2] == [f"v{i}".encode() for i in range(2_000)]


# --------------------------------------------------------------------------- delay


def test_each_round_trip_pays_the_delay_both_ways(proxied_valkey):
    # 1 ms each way: a PING cannot come back in less than 2 ms (lower bound only).
    assert measure_rtt(proxied_valkey.ping, 20) >= 0.002


def test_the_delay_applies_to_raw_bytes_too():
    with echo_server() as target, DelayProxy(*target, one_way_ms=25) as address:
        started = time.perf_counter()
        assert exchange(address, [b"ping"]) == b"ping"
        assert time.perf_counter() - started >= 0.050


# --------------------------------------------------------------------------- bounds


def test_leaving_the_block_closes_the_port_and_ends_its_threads():
    with echo_server() as target:
        proxy = DelayProxy(*target, one_way_ms=0.1)
        with proxy as address:
            assert exchange(address, [b"x"]) == b"x"
        assert proxy.stopped
        assert refused(address)
        assert not any(thread.is_alive() for thread in proxy._threads)


def test_it_stops_by_itself_after_max_seconds():
    with echo_server() as target, DelayProxy(*target, one_way_ms=0.1,
                                             max_seconds=0.2) as address:
        proxy_sock = socket.create_connection(address, timeout=WAIT_SECONDS)
        with proxy_sock:
            proxy_sock.sendall(b"before")
            assert proxy_sock.recv(100) == b"before"
            deadline = time.monotonic() + WAIT_SECONDS
            data = b"?"
            with contextlib.suppress(OSError):
                while data and time.monotonic() < deadline:  # cut: recv returns b""
                    data = proxy_sock.recv(100)
            assert data == b""
        assert refused(address)


def test_it_stops_once_max_bytes_have_passed():
    with echo_server() as target:
        proxy = DelayProxy(*target, one_way_ms=0.1, max_bytes=100_000)
        with proxy as address:
            echoed = exchange(address, [b"x" * 10_000] * 50)  # 500 KB offered
            wait_until_stopped(proxy)
            assert proxy.stopped
            assert len(echoed) < 500_000
            assert refused(address)


def test_it_refuses_more_connections_than_its_limit():
    with (
        echo_server() as target,
        DelayProxy(*target, one_way_ms=0.1, max_connections=1) as address,
        socket.create_connection(address, timeout=WAIT_SECONDS) as first,
    ):
        first.sendall(b"one")
        assert first.recv(10) == b"one"
        assert refused(address)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("10.0.0.5", 6379), {"one_way_ms": 1}, "target_host must be a loopback address"),
        (("example.com", 6379), {"one_way_ms": 1}, "target_host must be a loopback address"),
        (("127.0.0.1", 0), {"one_way_ms": 1}, "target_port must be a port number"),
        (("127.0.0.1", "6379"), {"one_way_ms": 1}, "target_port must be a port number"),
        (("127.0.0.1", 6379), {"one_way_ms": -1}, "one_way_ms must be between 0 and 1000"),
        (("127.0.0.1", 6379), {"one_way_ms": float("nan")}, "one_way_ms must be between"),
        (("127.0.0.1", 6379), {"one_way_ms": 1, "max_seconds": 0}, "max_seconds must be a "
                                                                    "positive number"),
        (("127.0.0.1", 6379), {"one_way_ms": 1, "max_bytes": -5}, "max_bytes must be a "
                                                                   "positive number"),
    ],
)
def test_bad_arguments_are_one_clear_error(args, options, message):
    with pytest.raises(ValueError, match=message):
        DelayProxy(*args, **options)


def test_localhost_and_ipv6_loopback_are_accepted():
    DelayProxy("localhost", 6379, one_way_ms=0)
    DelayProxy("::1", 6379, one_way_ms=0)
