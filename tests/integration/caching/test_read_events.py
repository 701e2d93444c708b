"""The invalidation bus against real servers: publish, subscribe, reconnect, worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import valkey

from lambda_app.caching.events import (
    InvalidationSubscriber,
    publish_flush,
    publish_invalidation,
)
from lambda_app.caching.keys import KeyBuilder
from scripts import servers
from tests import processes

pytestmark = pytest.mark.integration

CHANNEL = KeyBuilder("app").channel("invalidation")
GIVE_UP_S = 10.0



def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_published_keys_reach_every_subscriber(any_valkey):
    received: list[list[str]] = [[], []]
    flushes = [0, 0]
    lock = threading.Lock()

    def subscriber(i: int) -> InvalidationSubscriber:
        def on_keys(keys: list[str]) -> None:
            with lock:
                received[i].extend(keys)

        def on_flush() -> None:
            flushes[i] += 1

        return InvalidationSubscriber(
            any_valkey, on_keys, channel=CHANNEL, on_flush=on_flush
        ).start()

    subs = [subscriber(0), subscriber(1)]
    try:
        for sub in subs:
            assert sub.ready.wait(GIVE_UP_S)
        names = ["app:product:1", "app:user:{2}:x"]
        assert publish_invalidation(any_valkey, names, channel=CHANNEL) >= 1
        assert publish_invalidation(any_valkey, [], channel=CHANNEL) == 0
        wait_for(lambda: all(len(r) == 2 for r in received), "both subscribers")
        assert received[0] == received[1] == ["app:product:1", "app:user:{2}:x"]
        before = list(flushes)
        publish_flush(any_valkey, channel=CHANNEL)
        wait_for(lambda: all(f > b for f, b in zip(flushes, before, strict=True)), "flush")
    finally:
        for sub in subs:
            sub.stop()
    assert not any(sub.ready.is_set() for sub in subs)


def test_subscriber_resubscribes_after_a_server_restart_and_flushes(tmp_path: Path):
    server = servers.start_valkey(tmp_path / "v")
    client = valkey.Valkey(host=server.host, port=server.port, socket_timeout=1,
                           socket_connect_timeout=1)
    flushes: list[float] = []
    got: list[str] = []
    sub = InvalidationSubscriber(client, got.extend, channel=CHANNEL,
                                 on_flush=lambda: flushes.append(time.monotonic()),
                                 retry_s=0.05).start()
    try:
        assert sub.ready.wait(GIVE_UP_S)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        wait_for(lambda: not sub.ready.is_set(), "the subscriber to notice")
        server = servers.start_valkey(tmp_path / "v", port=server.port)
        wait_for(sub.ready.is_set, "the subscriber to come back")
        assert len(flushes) >= 3  # subscribe, disconnect, resubscribe
        publish_invalidation(client, ["app:product:9"], channel=CHANNEL)
        wait_for(lambda: got == ["app:product:9"], "a message after the restart")
    finally:
        sub.stop()
        client.close()
        servers.stop(server)


def test_standalone_worker_logs_and_deletes(valkey, valkey_server):
    valkey.set("app:product:1", b"x", px=60_000)
    env = dict(os.environ, VALKEY_URL=valkey_server.url, CACHE_PREFIX="app")
    worker = subprocess.Popen(
        [sys.executable, "-m", "lambda_app.caching.events", "--delete"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=Path(__file__).resolve().parents[3],
    )
    try:
        wait_for(lambda: valkey.pubsub_numsub(CHANNEL)[0][1] >= 1, "the worker to subscribe")
        publish_invalidation(valkey, ["app:product:1"], channel=CHANNEL)
        wait_for(lambda: valkey.exists("app:product:1") == 0, "the worker to delete the key")
    finally:
        output = processes.stop(worker, grace=GIVE_UP_S)
    assert "listening on app:channel:invalidation" in output
    assert "invalidate app:product:1" in output
    assert worker.returncode == 0 and "stopped" in output  # SIGTERM ends it cleanly
