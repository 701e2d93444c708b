"""Secrets from Secrets Manager through Powertools parameters, cached per process.

Powertools caches the value (``max_age``) so a warm Lambda does not call Secrets
Manager on every invocation; boto3 comes from the Lambda runtime and is imported only
when a secret is actually configured, so local runs and tests need no AWS at all.
"""

from __future__ import annotations

import json
from typing import Any

from lambda_app.config_types import ConfigError

SECRET_MAX_AGE_SECONDS = 300


def _fetch(arn: str, variable: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        raw = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    except (parameters.exceptions.GetParameterError, parameters.exceptions.GetSecretError) as exc:
        raise ConfigError(variable, arn, f"a readable Secrets Manager secret ({exc})") from None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def get_secret_json(arn: str, variable: str) -> dict[str, Any]:
    """The secret's JSON object; ``variable`` names the setting that pointed at it."""
    try:
        value = json.loads(_fetch(arn, variable))
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(variable, arn, "a secret holding a JSON object")
    return value


def get_secret_string(arn: str, variable: str, *, key: str = "password") -> str:
    """A plain secret, or one field of a JSON secret (AUTH tokens are stored both ways)."""
    text = _fetch(arn, variable)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get(key), str):
        return str(parsed[key])
    return text
