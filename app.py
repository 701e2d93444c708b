#!/usr/bin/env python3
"""CDK entry point: context -> validated config -> stacks -> cdk-nag -> synth.

``cdk.json`` runs ``python3 app.py``. When that interpreter lacks aws-cdk-lib (no venv
activated), the app re-runs itself with the project's ``.venv`` so ``npx cdk synth``
works either way. A bad context value prints one line naming the key and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
VENV = PROJECT_ROOT / ".venv"


def _use_project_node() -> None:
    """jsii starts ``node`` from the PATH: the supported one ``package.json`` pins."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from scripts.project_node import use_project_node

    use_project_node()


_use_project_node()


def _use_project_venv() -> None:
    """Re-exec with ``.venv/bin/python`` if this interpreter cannot import aws_cdk."""
    try:
        import aws_cdk  # noqa: F401
    except ModuleNotFoundError:
        venv_python = VENV / "bin" / "python"
        in_venv = Path(sys.prefix).resolve() == VENV.resolve()
        if not venv_python.exists() or in_venv:
            sys.stderr.write(
                "aws-cdk-lib is not installed for this Python; run `make venv` "
                "(or pip install -r requirements/dev.txt) first.\n"
            )
            raise SystemExit(1) from None
        os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])  # noqa: S606


def main() -> int:
    _use_project_venv()
    sys.path.insert(0, str(PROJECT_ROOT))
    import aws_cdk as cdk

    from infra.bundling import BUNDLING_FAILED
    from infra.config import ConfigError, load_config, read_flag
    from infra.deployment import build
    from infra.nag import add_nag_checks

    app = cdk.App()
    context = app.node.get_all_context()
    try:
        config = load_config(context)
        bundle = read_flag(context, "bundle", default=True)
        source_only = read_flag(context, "allow_source_only_bundle", default=False)
    except ConfigError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        return 1
    try:
        build(app, config, bundle=bundle, project_root=PROJECT_ROOT,
              allow_source_only_bundle=source_only)
    except RuntimeError as error:  # jsii wraps what the local bundler raised
        text = str(error)
        if BUNDLING_FAILED not in text:
            raise
        sys.stderr.write(text[text.index(BUNDLING_FAILED) :] + "\n")
        return 1
    add_nag_checks(app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
