"""Invalidation bus over Valkey pub/sub: each app instance drops its own local copies.

Event-driven invalidation where every subscriber runs ``r.delete(key)`` on the *shared*
cache has N instances deleting the same key N times, while the local copies that
actually need a broadcast are never touched. Here the writer deletes or
rewrites the shared key once, then publishes the key names; every subscriber drops them
from its in-process near cache (:mod:`near_cache`).

Wire format: one message per publish, a JSON array of key names, or ``*`` meaning
"drop everything" (key names built by :mod:`keys` can never be ``*``). Pub/sub is
fire-and-forget, so a subscriber clears its whole local cache whenever it
(re)subscribes: messages sent while it was disconnected are lost.

Run as a standalone worker (a subscriber that logs what it sees)::

    python -m lambda_app.caching.events [--channel NAME] [--delete]

It logs every invalidation; ``--delete`` also deletes the keys from Valkey.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lambda_app.caching.keys import DEFAULT_PREFIX, KeyBuilder

if TYPE_CHECKING:
    from lambda_app.clients.valkey import CacheClient

logger = logging.getLogger(__name__)

DEFAULT_CHANNEL_NAME = "invalidation"
#: The channel under the default prefix; use ``KeyBuilder(prefix).channel(...)`` otherwise.
DEFAULT_CHANNEL = KeyBuilder(DEFAULT_PREFIX).channel(DEFAULT_CHANNEL_NAME)
FLUSH = b"*"


def encode_message(keys: Sequence[str]) -> bytes:
    return json.dumps(list(keys), separators=(",", ":")).encode()


def decode_message(data: bytes | str) -> list[str] | None:
    """Keys named by a message; None means "drop everything"."""
    raw = data.encode() if isinstance(data, str) else data
    if raw == FLUSH:
        return None
    try:
        keys = json.loads(raw)
    except ValueError:
        raise ValueError(f"malformed invalidation message {raw[:80]!r}") from None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"malformed invalidation message {raw[:80]!r}: expected a JSON list")
    return keys


def publish_invalidation(
    client: CacheClient, keys: Iterable[str], *, channel: str = DEFAULT_CHANNEL
) -> int:
    """Tell every instance to drop ``keys`` locally; returns how many subscribers got it."""
    names = list(keys)
    if not names:
        return 0
    return int(client.publish(channel, encode_message(names)))


def publish_flush(client: CacheClient, *, channel: str = DEFAULT_CHANNEL) -> int:
    """Tell every instance to drop its whole local cache."""
    return int(client.publish(channel, FLUSH))


class InvalidationSubscriber:
    """Background subscriber: applies each message through callbacks, reconnects forever.

    ``on_keys(keys)`` gets the key names of one message; ``on_flush()`` runs on a
    ``*`` message, on every (re)subscribe and on every disconnect, since messages may
    have been missed. ``ready`` is set while subscribed.
    """

    def __init__(
        self,
        client: CacheClient,
        on_keys: Callable[[list[str]], Any],
        *,
        channel: str = DEFAULT_CHANNEL,
        on_flush: Callable[[], Any] | None = None,
        poll_s: float = 0.25,
        retry_s: float = 0.5,
    ) -> None:
        self.client = client
        self.channel = channel
        self.on_keys = on_keys
        self.on_flush = on_flush or (lambda: None)
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.ready = threading.Event()
        self.messages = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> InvalidationSubscriber:
        """Run in a daemon thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run, name=f"invalidation:{self.channel}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Subscribe and dispatch until :meth:`stop`; reconnect after any failure."""
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.client.pubsub()
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=self.poll_s)
                    if message is not None:
                        self.handle(message)
            except Exception as exc:  # any failure: drop local state, retry
                if self.ready.is_set():
                    logger.warning("invalidation subscriber lost %s: %s", self.channel, exc)
                self._disconnected()
                self._stop.wait(self.retry_s)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # closing a broken connection
                        pubsub.close()
        self._disconnected()

    def _disconnected(self) -> None:
        self.ready.clear()
        self.on_flush()

    def handle(self, message: dict[str, Any]) -> None:
        """Apply one pub/sub message (public for tests and custom loops)."""
        kind = message.get("type")
        if kind in ("subscribe", b"subscribe"):
            self.on_flush()
            self.ready.set()
            return
        if kind not in ("message", b"message"):
            return
        self.messages += 1
        try:
            keys = decode_message(message["data"])
        except ValueError as exc:
            logger.warning("ignored %s", exc)
            return
        if keys is None:
            self.on_flush()
        else:
            self.on_keys(keys)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone worker: log invalidations (and with --delete, delete the keys)."""
    import argparse  # the worker's alone: ~7 ms (gettext) off every API cold start

    from lambda_app.clients.valkey import build_valkey
    from lambda_app.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m lambda_app.caching.events",
        description="Subscribe to the cache invalidation channel and log every message.",
    )
    parser.add_argument(
        "--channel", help="channel name (default: <CACHE_PREFIX>:channel:invalidation)"
    )
    parser.add_argument(
        "--delete", action="store_true", help="also DEL the named keys from Valkey"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.from_env()
    client = build_valkey(settings.valkey)
    channel = args.channel or KeyBuilder(settings.cache.prefix).channel(DEFAULT_CHANNEL_NAME)

    def on_keys(keys: list[str]) -> None:
        logger.info("invalidate %s", " ".join(keys))
        if args.delete:
            client.delete(*keys)

    subscriber = InvalidationSubscriber(
        client,
        on_keys,
        channel=channel,
        on_flush=lambda: logger.info("flush (subscribed, or a '*' message)"),
    )
    # SIGTERM is how process managers (and a test on timeout) stop a worker; a job run
    # in the background ignores SIGINT, so Ctrl-C alone would not be enough.
    signal.signal(signal.SIGTERM, lambda *_: subscriber.stop())
    logger.info("listening on %s", channel)
    try:
        subscriber.run()
    except KeyboardInterrupt:
        subscriber.stop()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
