"""Preflight: is this machine and account ready for ``cdk deploy``?

Each check answers one question with one line (credentials present, region set, account
bootstrapped, tool versions), so a deploy that cannot work stops before CDK starts
synthesising, with the reason and the fix, instead of failing minutes in.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.ops import argtypes
from scripts.ops.aws import error_code, explain
from scripts.ops.errors import EXIT_FAILED, EXIT_OK
from scripts.ops.judges import version_tuple
from scripts.ops.output import print_json, print_text, status, table, warn
from scripts.ops.project import REPO_ROOT
from scripts.project_node import MIN_NODE, with_project_node

if TYPE_CHECKING:
    from scripts.ops.deploy_checks import Plan
    from scripts.ops.parents import Parents

MIN_PYTHON = (3, 11)
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_STACK = "CDKToolkit"
TOOL_TIMEOUT = 60.0


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


def check_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> Finding:
    shown = ".".join(map(str, version))
    ok = tuple(version) >= MIN_PYTHON
    return Finding("python", ok, f"python {shown}" + ("" if ok else " (need >= 3.11)"))


def check_node(version_text: str | None) -> Finding:
    """``version_text`` is ``node --version`` output, or None when node is missing."""
    if version_text is None:
        return Finding("node", False, "node not found: run `make node` (npm ci installs the "
                       "CDK CLI and Node 24 into node_modules)")
    ok = version_tuple(version_text) >= MIN_NODE
    need = ".".join(map(str, MIN_NODE[:1]))
    return Finding("node", ok, f"node {version_text}" + (
        "" if ok else f" (need >= {need}: run `make node` for the pinned Node 24)"))


def check_cdk_cli(version_text: str | None, pinned: str | None) -> Finding:
    """``cdk --version`` output against the version package.json pins."""
    if version_text is None:
        return Finding("cdk", False, "aws-cdk CLI not installed: run `make node` (npm ci)")
    found = version_text.split()[0] if version_text.split() else version_text
    if pinned and found != pinned:
        return Finding("cdk", False, f"aws-cdk CLI {found}, package.json pins {pinned}: run npm ci")
    return Finding("cdk", True, f"aws-cdk CLI {found}")


def check_region(region: str | None) -> Finding:
    if not region:
        return Finding("region", False, "no AWS region set: pass --region or set AWS_REGION")
    return Finding("region", True, region)


def check_credentials(session: Any) -> tuple[Finding, Identity | None]:
    """STS GetCallerIdentity: the only proof that the credentials work."""
    try:
        if session.get_credentials() is None:
            raise _no_credentials()
        reply = session.client("sts").get_caller_identity()
    except Exception as exc:
        return Finding("credentials", False, explain(exc) or str(exc)), None
    identity = Identity(str(reply["Account"]), str(reply["Arn"]))
    return Finding("credentials", True, f"{identity.arn}"), identity


def _no_credentials() -> Exception:
    from botocore.exceptions import NoCredentialsError

    error: Exception = NoCredentialsError()
    return error


def check_bootstrapped(session: Any, identity: Identity, region: str) -> Finding:
    """The bootstrap version parameter, else the CDKToolkit stack, exists."""
    where = f"aws://{identity.account}/{region}"
    try:
        reply = session.client("ssm").get_parameter(Name=BOOTSTRAP_PARAMETER)
        return Finding(
            "bootstrap", True, f"{where} bootstrap version {reply['Parameter']['Value']}"
        )
    except Exception as exc:
        if error_code(exc) not in ("ParameterNotFound", "AccessDeniedException"):
            return Finding("bootstrap", False, explain(exc) or str(exc))
    try:
        session.client("cloudformation").describe_stacks(StackName=BOOTSTRAP_STACK)
        return Finding("bootstrap", True, f"{where} has the {BOOTSTRAP_STACK} stack")
    except Exception as exc:
        if error_code(exc) != "ValidationError":
            return Finding("bootstrap", False, explain(exc) or str(exc))
    fix = "run `python -m scripts.ops bootstrap`"
    return Finding("bootstrap", False, f"{where} is not bootstrapped for CDK: {fix}")


def tool_version(
    argv: Sequence[str], cwd: Path = REPO_ROOT, env: Mapping[str, str] | None = None
) -> str | None:
    """First line of ``argv``'s output, or None when the tool is missing or fails."""
    path = (env or os.environ).get("PATH")
    if shutil.which(argv[0], path=path) is None and not Path(argv[0]).exists():
        return None
    try:
        done = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT,
            check=False, env=None if env is None else dict(env),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def cdk_command(root: Path = REPO_ROOT) -> list[str]:
    """The pinned local CLI when installed (what ``npx cdk`` would run), else npx."""
    local = root / "node_modules" / ".bin" / "cdk"
    return [str(local)] if local.exists() else ["npx", "--no-install", "cdk"]


def pinned_cdk_version(root: Path = REPO_ROOT) -> str | None:
    try:
        package = json.loads((root / "package.json").read_text())
    except (OSError, ValueError):
        return None
    pinned = package.get("devDependencies", {}).get("aws-cdk")
    return str(pinned).lstrip("^~=") if pinned else None


def run_preflight(
    session: Any, *, need_bootstrap: bool = True, plan: Plan | None = None
) -> tuple[list[Finding], Identity | None]:
    """Every check, in order; the bootstrap check runs only when it can answer. With the
    ``plan`` of an environment about to be deployed, also what that deploy needs."""
    findings = [
        check_python(),
        check_node(tool_version(["node", "--version"], env=with_project_node())),
        check_cdk_cli(tool_version([*cdk_command(), "--version"], env=with_project_node()),
                      pinned_cdk_version()),
        check_region(session.region_name),
    ]
    credentials, identity = check_credentials(session)
    findings.append(credentials)
    if need_bootstrap and identity is not None and session.region_name:
        findings.append(check_bootstrapped(session, identity, session.region_name))
    if plan is not None:
        from scripts.ops.deploy_checks import check_bytecode, check_concurrency, check_subscriber

        findings += [check_subscriber(plan), check_bytecode()]
        if identity is not None and session.region_name:
            findings.append(check_concurrency(session, plan))
    return findings, identity


def report_failures(findings: Sequence[Finding]) -> bool:
    """One stderr line per failed check; True when all passed."""
    for finding in findings:
        if not finding.ok:
            warn(f"preflight: {finding.name}: {finding.detail}")
    return all(f.ok for f in findings)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "preflight",
        parents=[parents.aws, parents.json],
        help="check credentials, region, CDK bootstrap, tools and what the deploy needs",
        description="Run the checks deploy runs first: this machine (tools, bytecode for "
        "the bundle), the account (credentials, bootstrap, Lambda concurrency for the "
        "environment's reservations) and the environment (an alarm subscriber where "
        "required). Exit code 1 when any fails.",
    )
    parser.add_argument(
        "--alarm-email", type=argtypes.email,
        help="the address ops deploy --alarm-email would subscribe (checked, not used)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from scripts.ops.aws import session_for
    from scripts.ops.cdk import deploy_overrides
    from scripts.ops.deploy_checks import load_plan

    plan = load_plan(args.env, deploy_overrides(args))
    findings, identity = run_preflight(session_for(args), plan=plan)
    if args.json:
        print_json(
            {
                "passed": all(f.ok for f in findings),
                "account": identity.account if identity else None,
                "checks": [asdict(f) for f in findings],
            }
        )
    else:
        print_text(
            table(
                ("STATUS", "CHECK", "DETAIL"), [(status(f.ok), f.name, f.detail) for f in findings]
            )
        )
    return EXIT_OK if all(f.ok for f in findings) else EXIT_FAILED
