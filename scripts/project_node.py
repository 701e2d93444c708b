"""The Node.js the project's CDK tools run on: the one ``package.json`` pins, when installed.

The CDK CLI and jsii (which ``aws-cdk-lib`` starts from Python) take ``node`` from the
``PATH``. Node 20 is past its end of life and jsii says so on every synth; silencing that
would hide a real problem. The npm registry ships Node itself (the ``node`` package), so
``npm ci`` puts a supported Node (24) into ``node_modules/.bin`` whatever the machine has,
and every entry point that starts the CDK (the Makefile, ``app.py``, the ops CLI, the
infra tests) puts that directory first on the ``PATH``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "node_modules" / ".bin"
#: The oldest Node the tools are run on (jsii and the CDK CLI support 22 and 24).
MIN_NODE = (22, 0)


def with_project_node(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with the pinned Node first on ``PATH``."""
    env = dict(os.environ if environ is None else environ)
    if (NODE_BIN / "node").exists():
        parts = [part for part in env.get("PATH", "").split(os.pathsep) if part]
        env["PATH"] = os.pathsep.join([str(NODE_BIN), *(p for p in parts if p != str(NODE_BIN))])
    return env


def use_project_node() -> None:
    """Put the pinned Node first on this process's ``PATH`` (before jsii starts one)."""
    os.environ["PATH"] = with_project_node()["PATH"]
