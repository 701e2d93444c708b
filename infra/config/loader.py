"""The one reader of CDK context: environments in ``cdk.json`` -> a frozen, validated config.

Why one module: every other infra module receives typed values and never calls
``try_get_context``, so a typo or an out-of-range value fails here, before any construct
is built, with a message that names the context key and what it accepts.

Layout of the context (``cdk.json``)::

    "env": "dev",                       # which environment to synthesize (-c env=prod)
    "bundle": true,                     # false: plain source asset, no pip (tests, synth)
    "environments": {"dev": {...}, "prod": {...}}

Each environment has the sections ``network``, ``valkey``, ``mysql``, ``functions``,
``api`` and ``monitoring`` plus a few top-level keys. Any leaf can be overridden for one
run with a dotted context key, e.g. ``-c valkey.maxmemory_policy=allkeys-lru``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from infra.config.checks import check_combinations
from infra.config.sections import NAME_PATTERN, AppConfig
from lambda_app.config_types import ConfigError, Flag, config_error

_FLAG: TypeAdapter[bool] = TypeAdapter(Flag)


def _leaf_keys() -> frozenset[str]:
    """Every key a ``-c`` override may name: ``region``, ``valkey.shards``, ..."""
    keys: set[str] = set()
    for name, info in AppConfig.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            keys.update(f"{name}.{leaf}" for leaf in section.model_fields)
        elif name != "env_name":
            keys.add(name)
    return frozenset(keys)


OVERRIDABLE_KEYS = _leaf_keys()


def load_config(context: Mapping[str, Any]) -> AppConfig:
    """Build the config of the environment named by context ``env`` (default ``dev``).

    ``context`` is the merged CDK context: ``cdk.json`` plus ``-c`` values (strings).
    """
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(
            "environments", None, "an object of environments (see cdk.json)", context_key=True
        )
    env_name = context.get("env", "dev")
    if not isinstance(env_name, str) or env_name not in environments:
        raise ConfigError(
            "env",
            env_name,
            "an environment of cdk.json: " + ", ".join(sorted(environments)),
            context_key=True,
        )
    path = f"environments.{env_name}"
    if not re.match(NAME_PATTERN, env_name) or len(env_name) > 8:
        raise ConfigError(
            path,
            None,
            "lowercase letters and digits, up to 8 characters",
            reason="invalid environment name",
            context_key=True,
        )
    values = environments[env_name]
    if not isinstance(values, Mapping):
        raise ConfigError(path, values, "a JSON object", context_key=True)
    # ``-c valkey.shards=3`` or ``-c removal_policy=retain``: only keys the config has
    # are looked up, so CDK's own context entries are never mistaken for overrides.
    overrides = {key: context[key] for key in OVERRIDABLE_KEYS if key in context}
    _refuse_unknown_overrides(context)
    merged = _merge(values, overrides)

    def key_of(dotted: str) -> str:
        return dotted if dotted in overrides else f"{path}.{dotted}"

    try:
        config = AppConfig.model_validate({**merged, "env_name": env_name})
    except ValidationError as error:
        raise config_error(
            error, AppConfig, lambda loc: key_of(".".join(loc)), context_key=True
        ) from None
    check_combinations(config, key_of)
    return config


#: The sections a ``-c section.key=...`` override can name (``valkey``, ``functions``...).
_SECTIONS = frozenset(key.split(".", 1)[0] for key in OVERRIDABLE_KEYS if "." in key)


def _refuse_unknown_overrides(context: Mapping[str, Any]) -> None:
    """``-c valkey.shardz=2`` is a typo, not a no-op: a context key in a config section's
    namespace that the section does not have is an error naming the keys it does."""
    for key in sorted(context):
        section = key.split(".", 1)[0]
        if "." in key and section in _SECTIONS and key not in OVERRIDABLE_KEYS:
            known = sorted(k for k in OVERRIDABLE_KEYS if k.startswith(f"{section}."))
            raise ConfigError(key, context[key], "one of " + ", ".join(known),
                              reason="no such setting", context_key=True)


def _merge(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The environment's values with the overrides laid over them; an absent or null
    section is an empty one (every key takes its default)."""
    merged: dict[str, Any] = {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in values.items()
        if value is not None
    }
    for key, value in overrides.items():
        section, _, leaf = key.rpartition(".")
        if section:
            target = merged.setdefault(section, {})
            if isinstance(target, dict):
                target[leaf] = value
        else:
            merged[key] = value
    return merged


def read_flag(context: Mapping[str, Any], key: str, default: bool) -> bool:
    """A boolean context flag such as ``bundle`` (``-c bundle=false`` arrives as a string)."""
    raw = context.get(key, default)
    try:
        return _FLAG.validate_python(raw)
    except ValidationError:
        raise ConfigError(key, raw, "true or false", context_key=True) from None
