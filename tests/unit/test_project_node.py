"""The CDK CLI and jsii run on a supported Node: the one ``package.json`` pins (24), first
on the PATH of every entry point, and no deprecation notice is silenced anywhere."""

from __future__ import annotations

import json
import subprocess

import pytest

from scripts.project_node import MIN_NODE, NODE_BIN, ROOT, with_project_node
from tests import processes

pytestmark = pytest.mark.unit


def test_package_json_pins_a_supported_node_and_declares_the_requirement():
    package = json.loads((ROOT / "package.json").read_text())
    pinned = package["devDependencies"]["node"]
    assert int(pinned.split(".")[0]) >= 24
    assert package["engines"]["node"] == f">={MIN_NODE[0]}"
    assert (ROOT / ".nvmrc").read_text().strip() == pinned.split(".")[0]


def test_the_pinned_node_comes_first_and_is_supported():
    if not (NODE_BIN / "node").exists():
        pytest.skip("node_modules not installed (make node)")
    env = with_project_node({"PATH": "/usr/bin:/bin"})
    assert env["PATH"].split(":")[0] == str(NODE_BIN)
    version = processes.run(["node", "--version"], env=env, capture_output=True, text=True,
                            timeout=30, check=True).stdout.strip()
    assert tuple(int(part) for part in version.lstrip("v").split(".")[:1]) >= MIN_NODE[:1]


def test_no_deprecation_notice_is_silenced_in_the_project():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    offenders = [name for name in tracked
                 if name != "tests/unit/test_project_node.py"
                 and (ROOT / name).is_file()
                 and "JSII_SILENCE_WARNING" in (ROOT / name).read_text(errors="ignore")]
    assert offenders == []
