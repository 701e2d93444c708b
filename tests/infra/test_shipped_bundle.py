"""The Lambda bundle as a deploy builds it here: pip for the runtime's platform, then
bytecode from the runtime's own Python (3.14, from the project's Debian root), with no
``allow_source_only_bundle``.

Needs the Debian root (``make test-shipped`` builds it, as root) and the package index.
Elsewhere it is skipped; ``make test-shipped`` runs it with
``VALKEY_CACHING_SHIPPED=required``, where skipping would hide a source-only bundle.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from infra import bundling
from infra.bytecode import find_compiler
from scripts.debian_root import DebianRoot

pytestmark = pytest.mark.infra

PROJECT = Path(__file__).resolve().parents[2]


def _root_or_skip() -> DebianRoot:
    root = DebianRoot()
    if os.geteuid() == 0 and root.is_current():
        return root
    reason = "no Debian root on this machine (make test-shipped builds it, as root)"
    if os.environ.get("VALKEY_CACHING_SHIPPED") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _magic(root: DebianRoot) -> bytes:
    """The bytecode magic of the root's Python: what Lambda's python3.14 will accept."""
    out = root.run([f"python{bundling.PYTHON_VERSION}", "-c",
                    "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
                   env={}, capture=True, what="python")
    return bytes.fromhex(out.strip())


def test_a_bundling_synth_ships_the_runtimes_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _root_or_skip()
    # Only the root may compile here: no python3.14, uv or Docker engine is consulted.
    monkeypatch.setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    compiler = find_compiler(bundling.PYTHON_VERSION, bundling.BUILD_IMAGE)
    assert compiler is not None and compiler.source in ("local", "debian-root")

    out = tmp_path / "asset"
    out.mkdir()
    bundler = bundling.LocalPythonBundler(PROJECT, install=True, ca_bundle_url=None,
                                          allow_source_only=False)
    assert bundler.try_bundle(str(out)) is True

    tag = f"cpython-{bundling.PYTHON_VERSION.replace('.', '')}"
    sources = sorted(out.rglob("*.py"))
    assert len(sources) > 500  # the package and its dependencies
    missing = [str(path.relative_to(out)) for path in sources
               if not (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").is_file()]
    assert missing == []
    magic = _magic(root)
    assert magic != importlib.util.MAGIC_NUMBER  # not this interpreter's bytecode
    handler = out / "lambda_app" / "handlers" / "__pycache__" / f"api.{tag}.pyc"
    assert handler.read_bytes()[:4] == magic
