"""Where the bundle's bytecode comes from: each source in its order, and the clear failure.

Real ``compileall`` runs in every case. The runtime's Python (3.14) is on none of these
machines, so the tests ask for *this* interpreter's version and put on a PATH of their own
the executable each source would use: a ``pythonX.Y`` link, or small ``uv`` / ``docker``
stand-ins that run this interpreter the way those tools would run theirs. What is tested
is the choice, its order and the commands; the tools themselves are not.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from infra import bundling
from infra.bytecode import find_compiler

pytestmark = pytest.mark.infra

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
PYC = f"mod.cpython-{VERSION.replace('.', '')}.pyc"
IMAGE = "public.ecr.aws/sam/build-python-test"


def _tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))  # nothing else: no python, uv or docker
    monkeypatch.setenv("DEBIAN_ROOT_DIR", str(tmp_path / "no-root"))  # nor the Debian root
    monkeypatch.setattr(bundling, "PYTHON_VERSION", VERSION)
    return directory


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    out = tmp_path / "asset"
    out.mkdir()
    (out / "mod.py").write_text("VALUE = 1\n")
    return out


def test_a_matching_local_interpreter_comes_first(bin_dir: Path, tree: Path) -> None:
    (bin_dir / f"python{VERSION}").symlink_to(sys.executable)
    _tool(bin_dir, "uv", "exit 99")  # present, but never asked
    compiler = find_compiler(VERSION, IMAGE)
    assert compiler is not None and compiler.source == "local"
    bundling._precompile(tree, allow_source_only=False)
    assert list(tree.rglob(PYC))


def test_uv_with_a_managed_python_comes_next(bin_dir: Path, tree: Path) -> None:
    # uv run --no-project --python X python ARGS  ->  this interpreter with ARGS
    _tool(bin_dir, "uv", f'shift 5; exec "{sys.executable}" "$@"')
    compiler = find_compiler(VERSION, IMAGE)
    assert compiler is not None and compiler.source == "uv"
    assert compiler.command(tree)[:6] == [str(bin_dir / "uv"), "run", "--no-project",
                                          "--python", VERSION, "python"]
    bundling._precompile(tree, allow_source_only=False)
    assert list(tree.rglob(PYC))


def test_the_build_image_when_a_docker_engine_answers(bin_dir: Path, tree: Path) -> None:
    # docker info -> ok; docker run ... -v OUT:/asset IMAGE pythonX ARGS /asset
    _tool(bin_dir, "docker", f"""
if [ "$1" = info ]; then exit 0; fi
mount="$6"; out="${{mount%%:/asset}}"
exec "{sys.executable}" -m compileall -q --invalidation-mode unchecked-hash "$out"
""")
    compiler = find_compiler(VERSION, IMAGE)
    assert compiler is not None and compiler.source == "docker"
    command = compiler.command(tree)
    assert IMAGE in command and "--network" in command and f"{tree}:/asset" in command
    bundling._precompile(tree, allow_source_only=False)
    assert list(tree.rglob(PYC))


def test_a_docker_client_without_an_engine_is_no_source(bin_dir: Path) -> None:
    _tool(bin_dir, "docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1")
    assert find_compiler(VERSION, IMAGE) is None


def test_no_source_fails_the_bundle_naming_every_way(bin_dir: Path, tree: Path) -> None:
    with pytest.raises(bundling.BundlingError) as caught:
        bundling._precompile(tree, allow_source_only=False)
    message = str(caught.value)
    assert message.startswith(bundling.BUNDLING_FAILED)
    for way in (f"python{VERSION}", "uv", "Docker", "make test-shipped",
                "allow_source_only_bundle=true"):
        assert way in message
    assert "\n" not in message


def test_a_source_only_bundle_is_an_explicit_choice(
    bin_dir: Path, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundling._precompile(tree, allow_source_only=True)
    assert not list(tree.rglob("*.pyc"))
    assert "WARNING" in capsys.readouterr().err
