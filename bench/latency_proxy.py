"""A loopback TCP proxy that delays every chunk, to measure as if over a real network.

Over loopback a Valkey round trip costs tens of microseconds, so the number of round
trips a code path makes barely shows; from Lambda to ElastiCache in the same AZ it costs
a few hundred. This proxy sits between a client and a server on 127.0.0.1 and holds
each chunk it reads for ``one_way_ms`` before passing it on, in each direction:

    with DelayProxy("127.0.0.1", 6379, one_way_ms=0.25) as (host, port):
        client = valkey.Valkey(host=host, port=port)  # each round trip +~0.5 ms

Each direction is a delay line, not a queue of sleeps: a reader thread stamps every
chunk with the time it is due, a writer thread sends chunks in order once due. So
pipelined traffic overlaps its delays as it would on a wire (a burst of chunks costs one
delay, not one per chunk), and bytes arrive unchanged and in order. There is no
bandwidth limit and no loss: only latency is added.

Threads rather than asyncio: asyncio's event loop waits in whole milliseconds (epoll),
too coarse for sub-millisecond delays; ``time.sleep`` is not, once the writer threads
ask Linux for a 1 µs timer slack (the default 50 µs lets every sleep overrun by ~80 µs).
The delay is a floor: sleeps still overrun and the thread hand-offs add some tens of
microseconds, which is why callers measure the round trip they actually get
(:func:`measure_rtt`) instead of assuming twice the delay.

It refuses non-loopback targets, and it stops by itself: when its ``with`` block ends,
after ``max_seconds``, or once ``max_bytes`` have passed through, whichever comes first
(later connections are refused, open ones are cut).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import math
import queue
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

LOOPBACK = "127.0.0.1"
CHUNK_BYTES = 65_536
MAX_ONE_WAY_MS = 1_000.0
_POLL_SECONDS = 0.05  # how often the accept loop looks at the stop flag
_JOIN_SECONDS = 2.0
_PR_SET_TIMERSLACK = 29  # <linux/prctl.h>
_TIMER_SLACK_NS = 1_000

#: Queue item for a direction's writer: (due time, bytes), or None for end of stream.
_Item = tuple[float, bytes] | None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (the only place the proxy may forward to)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tight_timer_slack() -> None:
    """Best effort: let this thread's sleeps end within ~1 µs of asking (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_TIMERSLACK, _TIMER_SLACK_NS, 0, 0, 0)


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class DelayProxy:
    """Forward 127.0.0.1:<free port> to a loopback ``target``, ``one_way_ms`` later
    in each direction. Use as a context manager: it yields ``(host, port)``.

    Bounds: it closes after ``max_seconds`` or once ``max_bytes`` (both directions) have
    passed, and accepts at most ``max_connections`` connections in its lifetime (later
    ones are closed at once)."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        one_way_ms: float,
        max_seconds: float = 300.0,
        max_bytes: int = 1 << 30,
        max_connections: int = 16,
    ) -> None:
        if not is_loopback(target_host):
            raise ValueError(f"target_host must be a loopback address, got {target_host!r}")
        if isinstance(target_port, bool) or not isinstance(target_port, int) \
                or not 0 < target_port < 65_536:
            raise ValueError(f"target_port must be a port number (1-65535), got {target_port!r}")
        if isinstance(one_way_ms, bool) or not isinstance(one_way_ms, int | float) \
                or not 0 <= one_way_ms <= MAX_ONE_WAY_MS:
            raise ValueError(
                f"one_way_ms must be between 0 and {MAX_ONE_WAY_MS:g}, got {one_way_ms!r}"
            )
        self.target = (target_host, target_port)
        self.delay = one_way_ms / 1000
        self.max_seconds = _positive("max_seconds", max_seconds)
        self.max_bytes = int(_positive("max_bytes", max_bytes))
        self.max_connections = int(_positive("max_connections", max_connections))
        self.bytes_forwarded = 0
        self.connections = 0
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._deadline: threading.Timer | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> tuple[str, int]:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stopped(self) -> bool:
        """True once :meth:`close` has finished (by the block's end, or a bound)."""
        return self._closed.is_set()

    def start(self) -> tuple[str, int]:
        """Listen on a free loopback port; returns its ``(host, port)``."""
        if self._listener is not None:
            raise RuntimeError("DelayProxy already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((LOOPBACK, 0))
        listener.listen(self.max_connections)
        listener.settimeout(_POLL_SECONDS)
        self._listener = listener
        self._deadline = threading.Timer(self.max_seconds, self.close)
        self._deadline.daemon = True
        self._deadline.start()
        self._spawn(self._accept_loop, "accept")
        return LOOPBACK, int(listener.getsockname()[1])

    def close(self) -> None:
        """Stop accepting, cut every connection, wait (briefly) for the threads."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
            sockets = list(self._sockets)
        if self._deadline is not None:
            self._deadline.cancel()
        if self._listener is not None:
            self._listener.close()  # new connections are refused from here on
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the readers blocked in recv
        current = threading.current_thread()
        for thread in list(self._threads):
            if thread is not current:
                thread.join(_JOIN_SECONDS)
        for sock in sockets:
            sock.close()
        self._closed.set()

    # ------------------------------------------------------------------ forwarding

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"delay-proxy-{name}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.connections >= self.max_connections:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=_JOIN_SECONDS)
            except OSError:
                client.close()
                continue
            self._open(client, upstream)

    def _open(self, client: socket.socket, upstream: socket.socket) -> None:
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stop.is_set():
                client.close()
                upstream.close()
                return
            self._sockets += [client, upstream]
            self.connections += 1
        for name, src, dst in (("up", client, upstream), ("down", upstream, client)):
            line: queue.SimpleQueue[_Item] = queue.SimpleQueue()
            self._spawn(self._read, f"{name}-read", src, line)
            self._spawn(self._write, f"{name}-write", dst, line)

    def _read(self, src: socket.socket, line: queue.SimpleQueue[_Item]) -> None:
        """Stamp each chunk with the time it is due on the other side."""
        try:
            while True:
                data = src.recv(CHUNK_BYTES)
                if not data:
                    break
                line.put((time.perf_counter() + self.delay, data))
                if self._count(len(data)):
                    break
        except OSError:
            pass
        line.put(None)

    def _write(self, dst: socket.socket, line: queue.SimpleQueue[_Item]) -> None:
        """Send chunks in order, each once it is due; half-close at end of stream."""
        _tight_timer_slack()
        try:
            while (item := line.get()) is not None:
                due, data = item
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _count(self, size: int) -> bool:
        """Add to the traffic total; True (and stop) once it passes ``max_bytes``."""
        with self._lock:
            self.bytes_forwarded += size
            over = self.bytes_forwarded > self.max_bytes
        if over:
            threading.Thread(target=self.close, name="delay-proxy-close", daemon=True).start()
        return over


def ping_times(ping: Callable[[], object], count: int = 200) -> list[float]:
    """Seconds taken by each of ``count`` calls of ``ping`` (e.g. a client's ``PING``)."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        ping()
        times.append(time.perf_counter() - started)
    return times


def measure_rtt(ping: Callable[[], object], count: int = 200) -> float:
    """Median seconds of ``count`` calls of ``ping``: the round trip a client sees."""
    return statistics.median(ping_times(ping, count))
