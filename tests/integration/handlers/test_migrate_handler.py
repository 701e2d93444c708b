"""The migrator entry point: CloudFormation custom-resource events and direct calls."""

import uuid

import pymysql
import pytest

from lambda_app.data.migrations import MIGRATIONS
from lambda_app.handlers import migrate as migrate_handler
from lambda_app.settings import get_settings
from scripts.servers import env_for

pytestmark = pytest.mark.integration


class Context:
    function_name = "migrate"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:migrate"
    aws_request_id = "req-1"


@pytest.fixture
def fresh_database(monkeypatch, valkey_server, mysql_server):
    """Point the handler at a database that does not exist yet; drop it afterwards."""
    name = f"migr_{uuid.uuid4().hex[:10]}"
    for key, value in env_for(valkey_server, mysql_server).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DB_NAME", name)
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()
    conn = pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                           user=mysql_server.user, password=mysql_server.password)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _tables(mysql_server, database):
    conn = pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                           user=mysql_server.user, password=mysql_server.password,
                           database=database)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        names = {row[0] for row in cur.fetchall()}
        cur.execute("SELECT COUNT(*) FROM products")
        products = cur.fetchone()[0]
    conn.close()
    return names, products


def _cfn_event(request_type, **properties):
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:provider",
        "ResourceType": "Custom::DatabaseMigration",
        "LogicalResourceId": "Migration",
        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/app/1",
        "RequestId": str(uuid.uuid4()),
        "ResourceProperties": {"CodeVersion": "abc", **properties},
    }


def test_create_event_creates_database_and_applies_migrations(fresh_database, mysql_server):
    result = migrate_handler.handler(_cfn_event("Create"), Context())
    assert result["PhysicalResourceId"] == "database-migrations"
    assert result["Data"]["Applied"] != "none"
    tables, products = _tables(mysql_server, fresh_database)
    assert {"products", "users", "sessions", "orders", "schema_migrations"} <= tables
    assert products == 0

    again = migrate_handler.handler(_cfn_event("Update"), Context())
    assert again["Data"]["Applied"] == "none"  # idempotent: nothing left to apply


def test_delete_event_leaves_the_data(fresh_database, mysql_server):
    migrate_handler.handler(_cfn_event("Create"), Context())
    event = _cfn_event("Delete")
    event["PhysicalResourceId"] = "database-migrations"
    assert migrate_handler.handler(event, Context()) == {
        "PhysicalResourceId": "database-migrations"
    }
    tables, _ = _tables(mysql_server, fresh_database)
    assert "products" in tables


def test_direct_seed_action_loads_demo_data(fresh_database, mysql_server):
    result = migrate_handler.handler({"action": "seed"}, Context())
    assert result["ok"] is True
    assert result["seeded"]["products"] == 10_000
    _, products = _tables(mysql_server, fresh_database)
    assert products == 10_000


def test_unknown_action_is_a_clear_error(fresh_database):
    result = migrate_handler.handler({"action": "drop-everything"}, Context())
    assert result == {"ok": False, "error": "action: expected one of migrate, seed"}


def test_unreachable_database_is_reported_not_raised(monkeypatch, fresh_database):
    monkeypatch.setenv("DB_PORT", "1")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "0.5")
    get_settings.cache_clear()
    result = migrate_handler.handler({"action": "migrate"}, Context())
    assert result["ok"] is False
    assert "MySQL at mysql://127.0.0.1:1" in result["error"]


def test_seed_sizes_are_honoured(fresh_database, mysql_server):
    result = migrate_handler.handler(
        {"action": "seed", "products": 50, "users": 10, "orders": 30}, Context()
    )
    assert result["seeded"]["products"] == 50
    assert _tables(mysql_server, fresh_database)[1] == 50


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True, 10**9])
def test_bad_seed_size_names_the_field(fresh_database, bad):
    result = migrate_handler.handler({"action": "seed", "products": bad}, Context())
    assert result["ok"] is False
    assert result["error"].startswith("products: expected a whole number")


def test_a_first_deploy_waits_for_a_database_that_starts_late(monkeypatch, tmp_path):
    """A new RDS instance (or a proxy still registering it) refuses connections for a
    while after its stack completes: the migration waits, then converges."""
    import threading
    import time

    from scripts import servers

    server = servers.start_mysql(tmp_path / "late")
    servers.stop(server)  # its port now refuses connections; its datadir and user remain
    for key, value in {"DB_HOST": server.host, "DB_PORT": str(server.port),
                       "DB_USER": server.user, "DB_PASSWORD": server.password,
                       "DB_NAME": "late_app", "DB_CONNECT_TIMEOUT": "1"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    restarted: list[servers.MysqlServer] = []
    starter = threading.Timer(
        20.0, lambda: restarted.append(servers.start_mysql(tmp_path / "late", port=server.port))
    )
    starter.start()
    began = time.monotonic()
    try:
        result = migrate_handler.handler(
            {"RequestType": "Create", "ResourceProperties": {}}, Context()
        )
    finally:
        starter.join()
        for started in restarted:
            servers.stop(started)
        get_settings.cache_clear()
    assert result["Data"]["Applied"] == ",".join(str(m.version) for m in MIGRATIONS)
    assert time.monotonic() - began >= 20.0  # it did wait, and did not give up


def test_waiting_stops_at_the_functions_own_timeout():
    class Short(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 45_000

    assert migrate_handler.wait_seconds(Short()) == 15.0
    assert migrate_handler.wait_seconds(Context()) == migrate_handler.CONVERGE_SECONDS


def test_the_migrator_creates_the_serving_functions_row_only_user(
    monkeypatch, fresh_database, mysql_server
):
    """Least privilege: the migrator (master credentials) creates the application user
    from its own secret; that user reads and writes rows, and can change no schema."""
    import json

    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    password = "app-runtime-" + uuid.uuid4().hex
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=f"app-{fresh_database}",
            SecretString=json.dumps({"username": "app_runtime", "password": password}),
        )["ARN"]
        monkeypatch.setenv("DB_APP_SECRET_ARN", arn)
        get_settings.cache_clear()
        result = migrate_handler.handler({"RequestType": "Create", "ResourceProperties": {}},
                                         Context())
    assert result["Data"]["SchemaVersion"] == str(MIGRATIONS[-1].version)
    app = pymysql.connect(host=mysql_server.host, port=mysql_server.port, user="app_runtime",
                          password=password, database=fresh_database, autocommit=True)
    try:
        with app.cursor() as cur:
            cur.execute("INSERT INTO products (name, price, description) VALUES ('x', 1, '')")
            cur.execute("SELECT COUNT(*) FROM products")
            assert cur.fetchone() == (1,)
            cur.execute("DELETE FROM products")
            for ddl in ("CREATE TABLE nope (id INT)", "DROP TABLE products",
                        "ALTER TABLE products ADD COLUMN x INT"):
                with pytest.raises(pymysql.err.OperationalError) as denied:
                    cur.execute(ddl)
                assert denied.value.args[0] == 1142  # command denied to user
    finally:
        app.close()
        admin = pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                                user=mysql_server.user, password=mysql_server.password)
        with admin.cursor() as cur:
            cur.execute("DROP USER IF EXISTS 'app_runtime'@'%'")
        admin.close()


def _lifecycle_event(request_type, version, old_version=None):
    event = _cfn_event(request_type, CodeVersion=version)
    if request_type != "Create":
        event["PhysicalResourceId"] = "database-migrations"
    if old_version is not None:
        event["OldResourceProperties"] = {"CodeVersion": old_version}
    return event


def _database_exists(mysql_server, name):
    conn = pymysql.connect(host=mysql_server.host, port=mysql_server.port,
                           user=mysql_server.user, password=mysql_server.password)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s",
                    (name,))
        found = cur.fetchone()[0] == 1
    conn.close()
    return found


def test_create_update_rollback_and_delete_as_cloudformation_sends_them(
    monkeypatch, fresh_database, mysql_server
):
    """A failed update's rollback sends Update with the old properties to the new code:
    answered with success and the same attributes, and nothing migrated."""
    monkeypatch.setenv("MIGRATOR_CODE_VERSION", "v1")
    created = migrate_handler.handler(_lifecycle_event("Create", "v1"), Context())
    assert created["Data"]["Applied"] != "none"

    monkeypatch.setenv("MIGRATOR_CODE_VERSION", "v2")  # the update put new code in place
    updated = migrate_handler.handler(_lifecycle_event("Update", "v2", "v1"), Context())
    assert updated["Data"]["Applied"] == "none"
    assert updated["Data"]["SchemaVersion"] == str(max(m.version for m in MIGRATIONS))

    # The rollback: old properties, new code, and a database it must not touch (this one
    # does not even exist, so any attempt to migrate would create it).
    untouched = f"{fresh_database}_rollback"
    monkeypatch.setenv("DB_NAME", untouched)
    get_settings.cache_clear()
    rolled_back = migrate_handler.handler(_lifecycle_event("Update", "v1", "v2"), Context())
    assert rolled_back["PhysicalResourceId"] == "database-migrations"
    assert set(rolled_back["Data"]) >= set(updated["Data"])  # outputs read the same keys
    assert "rollback" in rolled_back["Data"]["Skipped"]
    assert not _database_exists(mysql_server, untouched)

    monkeypatch.setenv("DB_NAME", fresh_database)
    get_settings.cache_clear()
    deleted = migrate_handler.handler(_lifecycle_event("Delete", "v2"), Context())
    assert deleted == {"PhysicalResourceId": "database-migrations"}
    assert _database_exists(mysql_server, fresh_database)


def test_a_rollback_is_answered_even_when_the_database_is_down(monkeypatch, fresh_database):
    """A rollback often follows a database failure: it must not wait for the database."""
    monkeypatch.setenv("MIGRATOR_CODE_VERSION", "v2")
    monkeypatch.setenv("DB_PORT", "1")  # nothing listens there
    get_settings.cache_clear()
    answer = migrate_handler.handler(_lifecycle_event("Update", "v1", "v2"), Context())
    assert answer["Data"]["SchemaVersion"] == "unchanged"


def test_a_provider_retry_of_the_same_request_applies_nothing_twice(
    monkeypatch, fresh_database
):
    monkeypatch.setenv("MIGRATOR_CODE_VERSION", "v1")
    event = _lifecycle_event("Create", "v1")
    first = migrate_handler.handler(event, Context())
    retried = migrate_handler.handler(event, Context())
    assert first["Data"]["Applied"] != "none"
    assert retried["Data"]["Applied"] == "none"
    assert retried["Data"]["SchemaVersion"] == first["Data"]["SchemaVersion"]
