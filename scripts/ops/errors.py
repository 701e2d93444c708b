"""Errors an operator can act on: printed as one line on stderr, never a traceback.

The exit code says who must act: 2 when the command line is wrong (usage), 1 when the
command ran and something it checked or called failed.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class OpsError(Exception):
    """A failure with a message fit for one line on stderr (exit code 1)."""

    exit_code = EXIT_FAILED


class UsageError(OpsError):
    """The command line asks for something impossible (exit code 2)."""

    exit_code = EXIT_USAGE
