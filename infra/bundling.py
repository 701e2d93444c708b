"""The Lambda code asset: ``lambda_app/`` plus its pinned dependencies, built without Docker.

Why local bundling: no Docker engine is needed to synth or deploy. pip installs wheels for
the Lambda platform (arm64, the runtime's CPython) instead of the build machine's, and
``--only-binary=:all:`` makes a dependency without such a wheel fail loudly here rather
than at import time in Lambda.

With ``bundle=False`` (tests, ``make synth``) the asset is the package source alone: no
pip, no network, same layout, so templates are identical apart from the asset hash.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.bytecode import compile_tree, find_compiler, how_to_fix

#: The newest Python runtime aws-cdk-lib offers; pip targets the same interpreter version.
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
ARCHITECTURE = lambda_.Architecture.ARM_64
#: Wheel platforms for arm64 Lambda (Amazon Linux 2023, glibc 2.34).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
#: The same wheels for this kind of machine, where an arm64 bundle cannot be imported
#: (the cold-start benchmark measures the bundle's import here).
X86_64_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
PACKAGE = "lambda_app"
REQUIREMENTS = Path("requirements") / "lambda.txt"
#: Where the RDS CA bundle lands in the asset (and so under /var/task in Lambda).
RDS_CA_BUNDLE = "certs/rds-ca-bundle.pem"
LAMBDA_TASK_ROOT = "/var/task"
#: The runtime's own build image: its python3.14 is the one Lambda runs.
BUILD_IMAGE = f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"
_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


#: Start of every bundling error message, so app.py can find it inside jsii's wrapping.
BUNDLING_FAILED = "Lambda bundling failed: "


class BundlingError(RuntimeError):
    """The asset could not be built (pip or the CA download failed)."""

    def __init__(self, problem: str) -> None:
        super().__init__(BUNDLING_FAILED + problem)


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """Builds the asset directory in-process; never falls back to Docker."""

    def __init__(
        self,
        project_root: Path,
        *,
        install: bool,
        ca_bundle_url: str | None,
        allow_source_only: bool = False,
        platforms: tuple[str, ...] = PLATFORMS,
    ) -> None:
        self._root = project_root
        self._platforms = platforms
        self._install = install
        self._allow_source_only = allow_source_only
        self._ca_bundle_url = ca_bundle_url if install else None

    def fingerprint(self) -> str:
        """Hash of every input, so CDK reuses a built asset and rebuilds when one changes.

        Why custom: the default source hash would not see ``requirements/lambda.txt``, and
        an output hash would force a pip run on every synth.
        """
        digest = hashlib.sha256()
        for part in (
            "install" if self._install else "source",
            PYTHON_VERSION,
            *self._platforms,
            self._ca_bundle_url or "",
        ):
            digest.update(part.encode() + b"\0")
        if self._install:
            digest.update((self._root / REQUIREMENTS).read_bytes())
        package = self._root / PACKAGE
        for path in sorted(package.rglob("*")):
            relative = path.relative_to(self._root)
            if path.is_file() and not _is_ignored(relative):
                digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        """Called by CDK with an empty ``output_dir``; returns True (bundled locally)."""
        out = Path(output_dir)
        shutil.copytree(self._root / PACKAGE, out / PACKAGE, ignore=_ignored_names)
        if self._install:
            self._pip_install(out)
            _precompile(out, allow_source_only=self._allow_source_only)
        if self._ca_bundle_url:
            _download_pem(self._ca_bundle_url, out / RDS_CA_BUNDLE)
        return True

    def _pip_install(self, out: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--requirement",
            str(self._root / REQUIREMENTS),
            "--target",
            str(out),
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            *(arg for platform in self._platforms for arg in ("--platform", platform)),
            "--only-binary=:all:",
            "--no-compile",
            "--no-input",
            "--quiet",
            "--disable-pip-version-check",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv, no shell
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise BundlingError(
                f"pip could not install {REQUIREMENTS} for Python {PYTHON_VERSION} on "
                f"{'/'.join(self._platforms)} (every dependency needs such a wheel):\n{tail}"
            )
        # Console scripts point at this machine's interpreter; Lambda never runs them.
        shutil.rmtree(out / "bin", ignore_errors=True)
        _drop_runtime_provided(out)


#: Import name -> distribution name of what the Lambda Python runtime already ships (boto3
#: and its dependencies; the tracer extra pulls botocore in): bundling them again would
#: triple the asset for nothing.
RUNTIME_PROVIDED = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "dateutil": "python_dateutil",
    "urllib3": "urllib3",
}


#: Files Lambda never reads: Swagger UI's assets (``/docs`` is served only locally).
UNUSED_IN_LAMBDA = (
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
)


def _drop_runtime_provided(out: Path) -> None:
    for module, distribution in RUNTIME_PROVIDED.items():
        shutil.rmtree(out / module, ignore_errors=True)
        for meta in out.glob(f"{distribution}-*.dist-info"):
            shutil.rmtree(meta, ignore_errors=True)
    for relative in UNUSED_IN_LAMBDA:
        (out / relative).unlink(missing_ok=True)


def _precompile(out: Path, *, allow_source_only: bool) -> None:
    """Ship bytecode for the runtime's Python (:mod:`infra.bytecode` says why and how)."""
    compiler = find_compiler(PYTHON_VERSION, BUILD_IMAGE)
    if compiler is None:
        if not allow_source_only:
            raise BundlingError(how_to_fix(PYTHON_VERSION, BUILD_IMAGE))
        print(f"bundling: WARNING: {how_to_fix(PYTHON_VERSION, BUILD_IMAGE)}; shipping "
              "source only, as allow_source_only_bundle asks", file=sys.stderr)
        return
    try:
        compile_tree(out, compiler)
    except RuntimeError as exc:
        raise BundlingError(str(exc)) from None


def _is_ignored(relative: Path) -> bool:
    """Caches, build metadata, bytecode, tests and dotfiles: neither hashed nor copied."""
    return any(
        part in {"__pycache__", "tests"} or part.startswith(".") or part.endswith(".egg-info")
        for part in relative.parts
    ) or relative.suffix in (".pyc", ".pyo")


def _ignored_names(_directory: str, names: list[str]) -> set[str]:
    """``copytree``'s ignore callback, so the copy leaves out exactly what the hash skips."""
    return {name for name in names if _is_ignored(Path(name))}


def _download_pem(url: str, target: Path) -> None:
    """Fetch the RDS CA bundle (config ``mysql.ca_bundle_url``) into the asset."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - https URL validated by config
            body = response.read()
    except OSError as exc:
        raise BundlingError(f"could not download the RDS CA bundle from {url}: {exc}") from None
    if _PEM_MARKER not in body:
        raise BundlingError(f"{url} did not return a PEM certificate bundle")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)


@dataclass(frozen=True)
class LambdaCode:
    """The code every function shares, and a version that changes whenever it changes."""

    code: lambda_.AssetCode
    version: str


def lambda_code(
    project_root: Path,
    *,
    bundle: bool,
    ca_bundle_url: str | None,
    allow_source_only: bool = False,
) -> LambdaCode:
    """One asset for all functions of a stack (one pip run, one upload).

    ``ca_bundle_url`` is None when the functions reach MySQL through RDS Proxy, whose
    certificate chains to Amazon's public roots already trusted by the runtime.
    """
    bundler = LocalPythonBundler(
        project_root, install=bundle, ca_bundle_url=ca_bundle_url,
        allow_source_only=allow_source_only,
    )
    version = bundler.fingerprint()
    code = lambda_.Code.from_asset(
        str(project_root / PACKAGE),
        asset_hash=version,
        asset_hash_type=AssetHashType.CUSTOM,
        bundling=BundlingOptions(
            # Never used: the local bundler always succeeds or raises. CDK requires an image.
            image=DockerImage.from_registry(BUILD_IMAGE),
            local=bundler,
        ),
    )
    return LambdaCode(code=code, version=version)
