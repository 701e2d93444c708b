"""``deploy`` / ``destroy`` / ``bootstrap``: the CDK CLI with an environment and preflight.

The wrappers add what ``npx cdk`` leaves to the operator: the ``-c env=`` selection
validated against cdk.json, stack names spelled for the environment, and preflight
checks that stop with one line each before CDK starts. CDK's own output streams through.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from scripts.ops import argtypes
from scripts.ops.deploy_checks import load_plan
from scripts.ops.errors import EXIT_FAILED, EXIT_OK, OpsError
from scripts.ops.output import print_text, warn
from scripts.ops.preflight import cdk_command, report_failures, run_preflight
from scripts.ops.project import REPO_ROOT, env_region
from scripts.project_node import with_project_node

if TYPE_CHECKING:
    from scripts.ops.parents import Parents


def cdk_argv(
    action: str,
    *,
    env: str,
    overrides: Mapping[str, str] | None = None,
    yes: bool = False,
    profile: str | None = None,
    target: str | None = None,
    base: Sequence[str] | None = None,
) -> list[str]:
    """The full CDK command line for one action (pure: unit-tested). Stacks always go as
    the set (``--all``): the migration waits for the database and the functions for the
    migration, and one stack alone could break either order."""
    argv = [*(base if base is not None else cdk_command()), action]
    argv += ([target] if target else []) if action == "bootstrap" else ["--all"]
    argv += ["-c", f"env={env}"]
    for key, value in (overrides or {}).items():
        argv += ["-c", f"{key}={value}"]
    if action == "deploy":
        argv += ["--require-approval", "never" if yes else "broadening"]
    if action == "destroy" and yes:
        argv.append("--force")
    if profile:
        argv += ["--profile", profile]
    return argv


def cdk_environ(region: str | None) -> dict[str, str]:
    """The environment CDK runs with: the chosen region, the pinned Node first on PATH."""
    environ = with_project_node()
    if region:
        environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"] = region
    return environ


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    helps = {
        "deploy": "deploy an environment's stacks (cdk deploy)",
        "destroy": "destroy an environment's stacks (cdk destroy)",
        "bootstrap": "bootstrap the account and region for CDK (cdk bootstrap)",
    }
    for action, text in helps.items():
        parser = sub.add_parser(
            action,
            parents=[parents.aws],
            help=text,
            description=f"{text[0].upper()}{text[1:]} after preflight checks "
            "(credentials, region, bootstrap, tool versions).",
        )
        if action == "deploy":
            parser.add_argument(
                "--alarm-email", type=argtypes.email,
                help="subscribe this address to the alarms (-c monitoring.alarm_email; "
                "a protected environment such as prod requires one)")
        parser.add_argument(
            "-y",
            "--yes",
            action="store_true",
            help="no prompts (deploy: approve security changes; destroy: --force)",
        )
        parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
        parser.add_argument(
            "--skip-preflight", action="store_true", help="run CDK without the preflight checks"
        )
        parser.set_defaults(run=run, action=action)


def run(args: argparse.Namespace) -> int:
    from scripts.ops.aws import session_for

    region = env_region(args.env, args.region)
    overrides = deploy_overrides(args)
    target = None
    if not args.skip_preflight:
        aws = session_for(args)
        plan = load_plan(args.env, overrides) if args.action == "deploy" else None
        findings, identity = run_preflight(aws, need_bootstrap=args.action != "bootstrap",
                                           plan=plan)
        if not report_failures(findings):
            return EXIT_FAILED
        if identity is not None:
            target = f"aws://{identity.account}/{aws.region_name}"
    argv = cdk_argv(
        args.action,
        env=args.env,
        overrides=overrides,
        yes=args.yes,
        profile=args.profile,
        target=target,
    )
    if args.dry_run:
        print_text(shlex.join(argv))
        return EXIT_OK
    warn(f"{args.action} {args.env}: {shlex.join(argv)}")
    try:
        done = subprocess.run(argv, cwd=REPO_ROOT, env=cdk_environ(region), check=False)
    except FileNotFoundError:
        raise OpsError(
            f"{argv[0]} not found: run `make node` (npm ci: the CDK CLI and Node 24)"
        ) from None
    if done.returncode != 0:
        raise OpsError(f"cdk {args.action} failed with exit code {done.returncode} (output above)")
    return EXIT_OK


def deploy_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The ``-c`` keys a deploy adds from its options (one place: the synth and the
    preflight read the same)."""
    email = getattr(args, "alarm_email", None)
    return {"monitoring.alarm_email": email} if email else {}
