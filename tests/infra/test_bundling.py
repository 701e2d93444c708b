"""infra/bundling.py: the asset layout, its fingerprint, and clear failures (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bundling import (
    BUNDLING_FAILED,
    PYTHON_RUNTIME,
    PYTHON_VERSION,
    BundlingError,
    LocalPythonBundler,
    _download_pem,
)

pytestmark = pytest.mark.infra


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal project: the package (with litter to exclude) and its requirements."""
    package = tmp_path / "lambda_app"
    (package / "handlers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "handlers" / "api.py").write_text("def handler(event, context):\n    return {}\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (package / "tests").mkdir()
    (package / "tests" / "test_x.py").write_text("")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "lambda.txt").write_text("valkey==6.2.0\n")
    return tmp_path


def test_pip_targets_the_runtime_python() -> None:
    assert PYTHON_RUNTIME.name == f"python{PYTHON_VERSION}"


def test_source_bundle_copies_the_package_without_caches_or_tests(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    bundler = LocalPythonBundler(
        project, install=False, ca_bundle_url="https://example.invalid/x.pem"
    )
    assert bundler.try_bundle(str(out)) is True
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["lambda_app/__init__.py", "lambda_app/handlers/api.py"]


def test_fingerprint_follows_sources_and_requirements_but_not_litter(project: Path) -> None:
    def fingerprint(install: bool = True) -> str:
        return LocalPythonBundler(project, install=install, ca_bundle_url=None).fingerprint()

    first = fingerprint()
    assert fingerprint() == first
    assert fingerprint(install=False) != first
    (project / "lambda_app" / "__pycache__" / "y.pyc").write_bytes(b"1")
    assert fingerprint() == first
    (project / "requirements" / "lambda.txt").write_text("valkey==6.1.0\n")
    second = fingerprint()
    assert second != first
    (project / "lambda_app" / "handlers" / "api.py").write_text("# changed\n")
    assert fingerprint() != second


def test_pip_failure_is_a_bundling_error_with_pip_output(project: Path, tmp_path: Path) -> None:
    (project / "requirements" / "lambda.txt").write_text("this is not a requirement!\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundlingError) as caught:
        LocalPythonBundler(project, install=True, ca_bundle_url=None).try_bundle(str(out))
    message = str(caught.value)
    assert message.startswith(BUNDLING_FAILED)
    assert "requirements/lambda.txt" in message
    assert "Python 3.14" in message


def test_unreachable_ca_bundle_is_a_bundling_error(tmp_path: Path) -> None:
    with pytest.raises(BundlingError, match="could not download the RDS CA bundle"):
        _download_pem("https://127.0.0.1:9/bundle.pem", tmp_path / "ca.pem")
