"""SnapStart: a restored environment reconnects instead of reusing the snapshot's sockets.

A restore is simulated with real servers: the connections the process opened are closed
on the server side (as they are, long since, when a snapshot is restored), the runtime's
after-restore hook runs, and the next requests are served over new connections.
"""

from __future__ import annotations

import sys
import types

import pytest

from lambda_app import snapstart
from tests.integration.api.harness import call

pytestmark = pytest.mark.integration


def _connection_ids() -> tuple[int, int]:
    from lambda_app.services import get_services

    services = get_services()
    with services.db().cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID() AS id")
        mysql_id = int(cursor.fetchone()["id"])
    return int(services.client.client_id()), mysql_id


def test_a_restored_process_opens_new_connections(api, valkey, mysql_server) -> None:
    from scripts import servers

    assert call("GET", "/products/1").status == 200
    valkey_before, mysql_before = _connection_ids()

    # What the snapshot holds: sockets the servers have dropped.
    valkey.client_kill_filter(_id=valkey_before)
    killer = servers.mysql_connect(mysql_server)
    with killer.cursor() as cursor:
        cursor.execute(f"KILL {mysql_before}")
    killer.close()

    snapstart.after_restore()
    answers = [call("GET", f"/products/{n}").status for n in (1, 2, 3)]
    assert answers == [200, 200, 200]
    valkey_after, mysql_after = _connection_ids()
    assert valkey_after != valkey_before and mysql_after != mysql_before


def test_the_hook_is_registered_with_the_runtime_when_it_offers_one(monkeypatch) -> None:
    registered = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert snapstart.register() is True
    assert registered == [snapstart.after_restore]


def test_outside_lambda_there_is_nothing_to_register(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert snapstart.register() is False


def test_a_restore_drops_connections_but_keeps_the_tls_contexts():
    """The contexts hold no connection: a restored copy reuses them, and pays only for
    its own handshakes."""
    from lambda_app import snapstart
    from lambda_app.clients.tls import mysql_context, valkey_context

    before = (valkey_context(None), mysql_context(None))
    snapstart.after_restore()
    assert (valkey_context(None), mysql_context(None)) == before
    assert valkey_context(None) is before[0]
