"""The ``python -m scripts.ops`` entry point: parser, dispatch, and the error contract.

Contract: every failure an operator can cause or meet ends as ONE line on stderr and an
exit code (2 usage, 1 failed checks or calls, 130 interrupted); ``--debug`` shows the
traceback for developers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from scripts.ops import argtypes
from scripts.ops.errors import EXIT_FAILED, EXIT_USAGE, OpsError
from scripts.ops.output import warn

Runner = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, not usage text plus error."""

    def error(self, message: str) -> NoReturn:
        warn(f"error: {message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)


@dataclass(frozen=True)
class Parents:
    """Option groups shared by several subcommands (argparse ``parents=``)."""

    aws: argparse.ArgumentParser
    json: argparse.ArgumentParser
    http: argparse.ArgumentParser


def _parents() -> Parents:
    aws = Parser(add_help=False)
    group = aws.add_argument_group("environment")
    group.add_argument(
        "-e",
        "--env",
        type=argtypes.env_name,
        default="dev",
        help="environment from cdk.json context (default: dev)",
    )
    group.add_argument(
        "--prefix", help="stack name prefix (default: <project>-<env> from cdk.json)"
    )
    group.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or default chain)")
    group.add_argument("--region", help="AWS region (default: the environment's in cdk.json)")

    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON document")

    http = Parser(add_help=False)
    http.add_argument(
        "--remote",
        action="store_true",
        help="sign each request with SigV4 from your AWS credentials, as the deployed "
        "API's operator routes require (a local make serve needs no signature)",
    )
    http.add_argument("--region", help="--remote: the API's region (default: from its URL)")
    http.add_argument("--profile", help="--remote: AWS profile (default: the default chain)")
    http.add_argument(
        "--timeout",
        type=argtypes.positive_float,
        default=10.0,
        help="seconds to wait for each response (default: 10)",
    )
    return Parents(aws=aws, json=as_json, http=http)


def build_parser() -> Parser:
    from scripts.ops import cdk, load, preflight, seed, smoke, verify, warm

    parser = Parser(
        prog="python -m scripts.ops",
        description="Operate the Valkey caching reference: deploy, seed, warm, smoke-test, "
        "verify and load-test an environment.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = _parents()
    for module in (preflight, cdk, seed, warm, smoke, verify, load):
        module.register(sub, parents)
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
