"""docs/infra.md's configuration tables say what the config models hold.

Every key of every section has a row, and each dev/prod value the table shows is the
value ``load_config`` gives that environment from cdk.json (``same`` repeats dev's).
Cells that describe rather than state a value (a URL's name, say) are left alone; the
test fails if too few values were compared for it to mean anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra.config import AppConfig

from .conftest import config_for

pytestmark = pytest.mark.infra

DOC = Path(__file__).resolve().parents[2] / "docs" / "infra.md"
SECTIONS = ("network", "valkey", "mysql", "functions", "api", "monitoring")


def _rows() -> list[tuple[str, list[str], str, str]]:
    """(section, keys, dev cell, prod cell) for each configuration table row."""
    text = DOC.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    text = text.split("\n## ", 1)[0]
    rows = []
    section = ""
    for line in text.splitlines():
        heading = re.match(r"^### (.+)$", line)
        if heading:
            named = re.findall(r"`([a-z_]+)`", heading.group(1))
            section = named[0] if len(named) == 1 else ""
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([a-z0-9_.]+)`", cells[0])
        rows.append((section, keys, cells[1], cells[2]))
    return rows


def _qualified(section: str, key: str, previous: str) -> str:
    if "." in key:
        return key
    if section:
        return f"{section}.{key}"
    owner = previous.split(".", maxsplit=1)[0] if "." in previous else ""
    return f"{owner}.{key}" if owner in SECTIONS else key


def _value(config: AppConfig, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ", ".join(_shown(item) for item in value)
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def _cell_values(cell: str, count: int) -> list[str] | None:
    """The values a cell states for ``count`` keys, or None when it describes instead."""
    plain = re.sub(r"\s*\([^)]*\)", "", cell).strip()  # remarks in parentheses
    plain = re.sub(r",\s*required$", "", plain)
    parts = [part.strip() for part in plain.split(" / ")] if count > 1 else [plain]
    if len(parts) != count:
        return None
    values = []
    for part in parts:
        if re.fullmatch(r"(`[^`]*`)(,\s*`[^`]*`)*", part):
            values.append(", ".join(re.findall(r"`([^`]*)`", part)))
        elif re.fullmatch(r"-?\d+", part):
            values.append(part)
        else:
            return None
    return values


def test_every_configuration_key_has_a_row() -> None:
    documented: set[str] = set()
    previous = ""
    for section, keys, _, _ in _rows():
        for key in keys:
            previous = _qualified(section, key, previous)
            documented.add(previous)
    config = config_for("dev")
    expected = {name for name in type(config).model_fields
                if name not in (*SECTIONS, "env_name")}
    for section in SECTIONS:
        expected |= {f"{section}.{name}" for name in type(getattr(config, section)).model_fields}
    assert sorted(expected - documented) == []
    assert sorted(documented - expected) == []


def test_the_dev_and_prod_columns_are_what_cdk_json_gives() -> None:
    configs = {"dev": config_for("dev"), "prod": config_for("prod")}
    configs["prod"] = configs["prod"].model_copy(update={"monitoring": configs[
        "prod"].monitoring.model_copy(update={"alarm_email": None})})  # set by the tests
    compared, wrong = 0, []
    previous = ""
    for section, keys, dev_cell, prod_cell in _rows():
        names = []
        for key in keys:
            previous = _qualified(section, key, previous)
            names.append(previous)
        dev_values = _cell_values(dev_cell, len(names))
        prod_values = dev_values if prod_cell == "same" else _cell_values(prod_cell, len(names))
        for env, values in (("dev", dev_values), ("prod", prod_values)):
            if values is None:
                continue
            for name, shown in zip(names, values, strict=True):
                actual = _shown(_value(configs[env], name))
                compared += 1
                if shown != actual:
                    wrong.append(f"{name} ({env}): docs say {shown!r}, config gives {actual!r}")
    assert wrong == []
    assert compared >= 80


def test_the_stated_database_settings_are_the_synthesized_ones(dev: Any) -> None:
    """The prose facts: each parameter the docs name has that value in the parameter
    group, and the number of secrets is the number the data stack creates."""
    text = DOC.read_text(encoding="utf-8")
    data = dev.templates["Data"]["Resources"]
    groups = [r["Properties"]["Parameters"] for r in data.values()
              if r["Type"] == "AWS::RDS::DBParameterGroup"]
    assert len(groups) == 1
    stated = dict(re.findall(r"`([a-z_]+)=([A-Za-z0-9]+)`", text))
    for name in ("require_secure_transport", "slow_query_log", "long_query_time",
                 "log_output"):
        assert groups[0][name] == stated[name], name
    secrets = [r for r in data.values() if r["Type"] == "AWS::SecretsManager::Secret"]
    count = re.search(r"(\d+) Secrets Manager secrets", text)
    assert count is not None and int(count.group(1)) == len(secrets)


def test_the_replacement_table_lists_each_fixed_resources_create_only_properties(
    dev: Any, prod: Any,
) -> None:
    """Per CloudFormation's own resource schemas (as cfn-lint ships them): the properties
    our templates set that replace the resource when changed are the ones the table
    names, for every resource type the table lists."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    text = DOC.read_text(encoding="utf-8").split("## What an update replaces", 1)[1]
    table = text.split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`AWS::"):
            documented[cells[0].strip("`")] = set(re.findall(r"`([A-Za-z]+)`", cells[1]))
    assert len(documented) == 5
    for synthesized in (dev, prod):
        for template in synthesized.templates.values():
            for resource in template.get("Resources", {}).values():
                if resource["Type"] not in documented:
                    continue
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(
                    "us-east-1", resource["Type"]).schema
                create_only = {path.rsplit("/", 1)[-1]
                               for path in schema.get("createOnlyProperties", [])}
                present = create_only & set(resource.get("Properties", {}))
                assert present == documented[resource["Type"]], resource["Type"]
