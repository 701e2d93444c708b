"""The boto3 session every AWS-facing command uses, and AWS errors as one line.

botocore's exceptions carry the facts an operator needs (no credentials, no region,
access denied on an operation) inside long messages; ``explain`` turns each into one
sentence that says what to do, so the CLI never shows a traceback for them.
"""

from __future__ import annotations

import argparse
from typing import Any


def session_for(args: argparse.Namespace) -> Any:
    """The session named by --profile, in --region or else the environment's region."""
    from scripts.ops.project import env_region

    return session(args.profile, env_region(args.env, args.region))


def session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 Session for the given profile and region (both optional)."""
    import boto3

    return boto3.session.Session(profile_name=profile, region_name=region)


def explain(exc: BaseException) -> str | None:
    """One line for a botocore/boto3 error, or None when ``exc`` is not one."""
    try:
        from botocore import exceptions as bc
    except ImportError:  # pragma: no cover - botocore is a dev dependency
        return None
    if isinstance(exc, bc.ClientError):
        error = exc.response.get("Error", {})
        message = (error.get("Message") or "no message").splitlines()[0]
        operation = getattr(exc, "operation_name", "AWS call")
        return f"{operation}: {error.get('Code', 'Error')}: {message}"
    kwargs = getattr(exc, "kwargs", {})
    known: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        (
            (bc.NoCredentialsError, bc.PartialCredentialsError),
            "no AWS credentials found: set AWS_PROFILE (and run `aws sso login`) "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        ),
        (bc.NoRegionError, "no AWS region set: pass --region or set AWS_REGION"),
        (bc.ProfileNotFound, f"AWS profile not found: {kwargs.get('profile')}"),
        (
            (bc.TokenRetrievalError, bc.SSOTokenLoadError),
            "the AWS SSO session has expired: run `aws sso login`",
        ),
        (
            bc.EndpointConnectionError,
            f"cannot reach the AWS endpoint {kwargs.get('endpoint_url')}",
        ),
    ]
    for kind, message in known:
        if isinstance(exc, kind):
            return message
    return str(exc) if isinstance(exc, bc.BotoCoreError) else None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError (e.g. ``ParameterNotFound``), else None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
