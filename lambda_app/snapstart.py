"""SnapStart: a restored execution environment opens its own connections.

With SnapStart, Lambda snapshots the environment after init and restores copies of it.
Anything init opened is in the snapshot: sockets to Valkey and MySQL that the servers
closed long ago, shared by every copy. The after-restore hook drops the process-wide
clients, so each restored environment connects afresh on its first request (the same
code path as a cold start's first request). Outside SnapStart nothing calls the hook.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def after_restore() -> None:
    """Forget every connection and what was built on them; the next request rebuilds."""
    from lambda_app.services.lifecycle import reset_runtime

    reset_runtime(settings=False)
    log.info("restored from a SnapStart snapshot: connections will be reopened")


def register() -> bool:
    """Register :func:`after_restore` with the runtime's hook registry, where one exists
    (``snapshot_restore_py`` ships with the Lambda Python runtime); whether it did."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True
