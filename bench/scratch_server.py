"""A throwaway valkey-server for benchmarks that change server settings.

``CONFIG SET maxmemory``/``FLUSHALL`` on the app's server would evict or wipe the
developer's (and other benchmarks') keys, so the eviction and memory benchmarks run on a
server of their own, started on a free loopback port by :mod:`scripts.servers` (the
same way the local stack and the test fixtures start theirs) and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scripts import servers


@contextlib.contextmanager
def scratch_valkey(binary: str | None = None) -> Iterator[tuple[servers.ValkeyServer, Any]]:
    """A fresh server (of ``binary``, else the discovered one) and a bytes client for
    it; both gone when the block ends."""
    state_dir = Path(tempfile.mkdtemp(prefix="bench-valkey-"))
    try:
        server = servers.start_valkey(state_dir, binary=binary)
        try:
            client = servers.valkey_client(server, timeout=10.0, decode_responses=False)
            try:
                yield server, client
            finally:
                client.close()
        finally:
            servers.stop(server)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def flush(client: Any) -> None:
    """``FLUSHALL SYNC``: Valkey 8 flushes asynchronously by default
    (``lazyfree-lazy-user-flush yes``), and ``used_memory`` read right after an async
    flush still counts the old keys."""
    client.execute_command("FLUSHALL", "SYNC")


def used_memory(client: Any) -> int:
    """``INFO memory`` used_memory: what ``maxmemory`` is compared against."""
    return int(client.info("memory")["used_memory"])
