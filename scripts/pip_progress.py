"""Condense pip's output into one progress line per package (stdin -> stdout).

Run by the Makefile while it builds the venv: ``pip -q`` prints nothing for minutes on
a fresh machine, and pip's full output is hundreds of lines. Errors pass through whole.
Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import sys


def main() -> int:
    seen = 0
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text.startswith("Collecting "):
            seen += 1
            name = text.split()[1]
            print(f"  [{seen:3d}] {name}", flush=True)
        elif text.startswith("Installing collected packages"):
            print(f"  installing {seen} packages...", flush=True)
        elif text.startswith("Successfully installed"):
            print(f"  installed {len(text.split()) - 2} packages", flush=True)
        elif "error" in text.lower() or text.startswith(("ERROR", "WARNING: Retrying")):
            print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
