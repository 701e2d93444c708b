"""The parser pieces every subcommand shares: a one-line-error ``Parser`` and the option
groups (``--env``/``--region``..., ``--json``, ``--remote``/``--timeout``) they take as
argparse parents. Subcommands import this, not the CLI entry point that imports them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import NoReturn

from scripts.ops import argtypes
from scripts.ops.errors import EXIT_USAGE
from scripts.ops.output import warn


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


def parents() -> Parents:
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
