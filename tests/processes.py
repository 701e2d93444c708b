"""Child processes a test starts: stopped and reaped whatever happens.

SIGTERM first (what a process manager sends; a background job ignores SIGINT), then
SIGKILL if it is still there after ``grace`` seconds; either way it is waited for, so no
worker outlives its test and acts on a later one's keys.
"""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[str], *, grace: float = 10.0) -> str:
    """Stop ``process`` and return what it wrote to stdout (when captured)."""
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def run(
    args: list[str],
    *,
    timeout: float,
    grace: float = 10.0,
    capture_output: bool = False,
    check: bool = False,
    input: str | None = None,
    **options: object,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` that stops an overdue child with SIGTERM, then SIGKILL, and
    always reaps it (``subprocess.run`` goes straight to SIGKILL)."""
    if capture_output:
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        options["stdin"] = subprocess.PIPE
    process: subprocess.Popen[str] = subprocess.Popen(args, **options)  # type: ignore[call-overload]
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process, grace=grace)
        raise
    result = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
