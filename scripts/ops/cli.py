"""The ``python -m scripts.ops`` entry point: parser, dispatch, and the error contract.

Contract: every failure an operator can cause or meet ends as ONE line on stderr and an
exit code (2 usage, 1 failed checks or calls, 130 interrupted); ``--debug`` shows the
traceback for developers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from scripts.ops.errors import EXIT_FAILED, EXIT_USAGE, OpsError
from scripts.ops.output import warn
from scripts.ops.parents import Parser, parents

Runner = Callable[[argparse.Namespace], int]


def build_parser() -> Parser:
    from scripts.ops import cdk, load, preflight, seed, smoke, verify, warm

    parser = Parser(
        prog="python -m scripts.ops",
        description="Operate the Valkey caching reference: deploy, seed, warm, smoke-test, "
        "verify and load-test an environment.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared = parents()
    for module in (preflight, cdk, seed, warm, smoke, verify, load):
        module.register(sub, shared)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one subcommand, and map every failure to one line and an exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error already printed (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    run: Runner = args.run
    try:
        return run(args)
    except OpsError as exc:
        warn(f"error: {_one_line(str(exc))}")
        return exc.exit_code
    except KeyboardInterrupt:
        warn("interrupted")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from scripts.ops.aws import explain

        known = explain(exc)
        message = known or f"unexpected {type(exc).__name__}: {exc} (rerun with --debug)"
        warn(f"error: {_one_line(message)}")
        return EXIT_FAILED


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
