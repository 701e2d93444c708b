"""Condense pip's output into one progress line per package (stdin -> stdout).

Run by the Makefile while it builds the venv: ``pip -q`` prints nothing for minutes on
a fresh machine, and pip's full output is hundreds of lines. Errors pass through whole.
pip says nothing at all while it installs what it downloaded (about 45 s for this
project on a fresh machine), so that phase gets a line every few seconds saying how
long it has been going. Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from typing import TextIO

#: Seconds between two "still installing" lines.
HEARTBEAT_SECONDS = 5.0


class _Heartbeat:
    """Prints the elapsed time every ``every`` seconds between ``start`` and ``stop``."""

    def __init__(self, out: TextIO, every: float) -> None:
        self.out, self.every = out, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, what: str) -> None:
        began = time.monotonic()

        def beat() -> None:
            while not self._stop.wait(self.every):
                print(f"  {what}: {time.monotonic() - began:.0f} s", file=self.out, flush=True)

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def condense(lines: Iterable[str], out: TextIO, *, every: float = HEARTBEAT_SECONDS) -> None:
    seen = 0
    heartbeat = _Heartbeat(out, every)
    try:
        for line in lines:
            text = line.rstrip("\n")
            if text.startswith("Collecting "):
                seen += 1
                print(f"  [{seen:3d}] {text.split()[1]}", file=out, flush=True)
            elif text.startswith("Installing collected packages"):
                print(f"  installing {seen} packages (pip prints nothing until it is done)",
                      file=out, flush=True)
                heartbeat.start(f"still installing {seen} packages")
            elif text.startswith("Successfully installed"):
                heartbeat.stop()
                print(f"  installed {len(text.split()) - 2} packages", file=out, flush=True)
            elif "error" in text.lower() or text.startswith(("ERROR", "WARNING: Retrying")):
                print(text, file=out, flush=True)
    finally:
        heartbeat.stop()


def main() -> int:
    condense(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
