"""Which CloudFormation requests the migrator acts on: only those that describe its code.

When a stack update fails after the migrate function's new code is in place,
CloudFormation rolls the migration resource back by sending an Update with the *old*
properties to the function, which still runs the *new* code. Migrating then would run
the new migrations a second time under a request that asks for the old state, and a
failure there leaves the stack in ``UPDATE_ROLLBACK_FAILED``. So the stack gives the
function its own code version (``MIGRATOR_CODE_VERSION``) and the resource the same
value (``CodeVersion``); a request whose version differs is a rollback or a stale call,
answered with success and no migration. Migrations only move forward: rolling code back
never un-applies them, and every migration is written to be compatible with the code
before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The custom resource property and the function's variable carrying one value.
CODE_VERSION_PROPERTY = "CodeVersion"
CODE_VERSION_ENV = "MIGRATOR_CODE_VERSION"


def stale_reason(properties: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """Why this request must not migrate (its code version is not ours), or None.

    A function without a version of its own (a local or direct call) acts on every
    request, as does a request that names none.
    """
    own = environ.get(CODE_VERSION_ENV, "").strip()
    asked = str(properties.get(CODE_VERSION_PROPERTY, "")).strip()
    if not own or not asked or asked == own:
        return None
    return (f"the request is for code version {asked[:12]}, this function runs "
            f"{own[:12]}: a rollback or a stale call, nothing to migrate")
