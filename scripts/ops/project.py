"""Where the project's deployment facts live: environments, stack names, output keys.

The CDK app owns these facts (cdk.json context, read by infra/config/); this module is
the one place the CLI reads or mirrors them, so a rename in infra is a one-line change
here. Stack names follow ``ConfiguredStack``: ``<project>-<env>-<part>`` (lowercase part).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.ops.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_PROJECT = "valkey-caching"
STACK_ROLES = ("network", "data", "api", "monitoring")

#: Stack output keys, by what they hold. CDK appends a hash to the key of an output
#: declared inside a construct, so a key also matches when it starts with a candidate.
OUTPUT_KEYS: dict[str, tuple[str, ...]] = {
    "api_url": ("ApiUrl", "ApiEndpoint", "HttpApiUrl"),
    "cache_endpoint": ("CacheEndpoint", "ValkeyEndpoint", "CachePrimaryEndpoint"),
    "db_endpoint": ("DatabaseEndpoint", "DbEndpoint"),
    "secret_arn": ("DatabaseSecretArn", "DbSecretArn", "SecretArn"),
    "dashboard": ("DashboardName", "Dashboard"),
    "migrator": ("MigratorFunctionName", "MigrateFunctionName"),
    "schema_version": ("SchemaVersion",),
}

#: Handlers of the project's own functions (CDK adds helper functions that are not).
APP_HANDLER_PREFIX = "lambda_app.handlers."
MIGRATE_HANDLER = "lambda_app.handlers.migrate.handler"


@dataclass(frozen=True)
class Environment:
    """One entry of cdk.json's ``environments``: what the CLI needs from it."""

    name: str
    project: str
    region: str | None

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.name}"


@dataclass(frozen=True)
class Project:
    """The CDK app's environments, read from cdk.json."""

    root: Path
    environments: dict[str, Environment]

    @property
    def envs(self) -> tuple[str, ...]:
        return tuple(sorted(self.environments))

    def check_env(self, env: str) -> str:
        """The env name, or a ``UsageError`` listing the known ones."""
        if env not in self.environments:
            raise UsageError(f"unknown environment {env!r} (choose from {', '.join(self.envs)})")
        return env

    def stack_names(self, env: str, prefix: str | None = None) -> dict[str, str]:
        """``{"network": "<project>-<env>-network", ...}``; ``prefix`` replaces the
        ``<project>-<env>`` part (for stacks deployed under another name)."""
        base = prefix or self.environments[self.check_env(env)].prefix
        return {role: f"{base}-{role}" for role in STACK_ROLES}

    def region(self, env: str) -> str | None:
        return self.environments[self.check_env(env)].region


def load_project(root: Path = REPO_ROOT) -> Project:
    """Environments from cdk.json's context (``dev`` and ``prod`` when it has none)."""
    context = _cdk_context(root / "cdk.json")
    raw = context.get("environments")
    if not isinstance(raw, dict) or not raw:
        raw = {"dev": {}, "prod": {}}
    environments = {
        str(name): Environment(
            name=str(name),
            project=str(values.get("project") or DEFAULT_PROJECT),
            region=values.get("region") or None,
        )
        for name, values in raw.items()
        if isinstance(values, dict)
    }
    return Project(root=root, environments=environments)


def env_stack_names(env: str, prefix: str | None = None) -> dict[str, str]:
    """The environment's stack names (see ``Project.stack_names``)."""
    return load_project().stack_names(env, prefix)


def env_region(env: str, region: str | None) -> str | None:
    """The region to use: ``--region`` when given, else the environment's in cdk.json."""
    return region or load_project().region(env)


def _cdk_context(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    context = data.get("context", {}) if isinstance(data, dict) else {}
    return context if isinstance(context, dict) else {}


def find_output(outputs: dict[str, str], what: str) -> str | None:
    """The value of the output holding ``what`` (a key of ``OUTPUT_KEYS``), if any."""
    candidates = OUTPUT_KEYS[what]
    for name in candidates:
        if name in outputs:
            return outputs[name]
    for key, value in sorted(outputs.items()):
        if any(key.startswith(name) for name in candidates):
            return value
    return None
