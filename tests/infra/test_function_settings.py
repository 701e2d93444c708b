"""infra/function_settings.py: what infra sets is exactly what lambda_app/settings.py reads."""

from __future__ import annotations

from typing import get_args

import pytest

from infra.bundling import LAMBDA_TASK_ROOT, RDS_CA_BUNDLE
from infra.config.sections import TunableSetting
from infra.constructs.mysql_database import DatabaseEndpoint
from infra.constructs.valkey_cache import CacheEndpoint
from infra.function_settings import function_environment
from lambda_app.settings import ENVIRONMENT_VARIABLES, Settings

from .conftest import config_for, with_section

pytestmark = pytest.mark.infra

#: Read by Powertools itself rather than by settings.py.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_TRACE_DISABLED",
    "LOG_LEVEL",
}

IAM_CACHE = CacheEndpoint(
    host="primary.cache.local",
    port=6379,
    cluster=False,
    replication_group_id="valkey-caching-dev",
    auth="iam",
    username="valkey-caching-dev-app",
    password_secret_arn=None,
)
DIRECT_DB = DatabaseEndpoint(
    host="db.local",
    port=3306,
    name="app",
    secret_arn="arn:db-secret",
    via_proxy=False,
    master_secret_arn="arn:db-master",
)


def contract_names() -> set[str]:
    return set(ENVIRONMENT_VARIABLES) | POWERTOOLS_VARIABLES


def test_every_variable_belongs_to_the_settings_contract() -> None:
    environment = function_environment(
        config=config_for("dev"), cache=IAM_CACHE, database=DIRECT_DB
    )
    assert set(environment) - contract_names() == set()


def test_iam_environment_parses_into_settings_as_lambda_would() -> None:
    environment = function_environment(
        config=config_for("dev"), cache=IAM_CACHE, database=DIRECT_DB
    )
    settings = Settings.from_env({**environment, "AWS_REGION": "us-east-1"})
    assert settings.valkey.auth == "iam"
    assert settings.valkey.tls is True
    assert settings.valkey.username == "valkey-caching-dev-app"
    assert settings.valkey.replication_group_id == "valkey-caching-dev"
    assert settings.valkey.cluster is False
    assert settings.db.tls is True
    assert settings.db.secret_arn == "arn:db-secret"
    assert settings.db.ca_file == f"{LAMBDA_TASK_ROOT}/{RDS_CA_BUNDLE}"
    assert settings.cache.maxmemory_policy == "allkeys-lfu"
    assert settings.service_name == "valkey-caching"


def test_password_cluster_and_proxy_variant() -> None:
    cache = CacheEndpoint(
        host="config.cache.local",
        port=6380,
        cluster=True,
        replication_group_id="valkey-caching-prod",
        auth="password",
        username=None,
        password_secret_arn="arn:auth-token",
    )
    database = DatabaseEndpoint(
        host="proxy.local",
        port=3306,
        name="app",
        secret_arn="arn:db",
        via_proxy=True,
        master_secret_arn="arn:db-master",
    )
    config = with_section(config_for("prod"), "functions", tracing=False)
    environment = function_environment(config=config, cache=cache, database=database)
    assert set(environment) - contract_names() == set()
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert "VALKEY_USERNAME" not in environment
    assert "DB_CA_FILE" not in environment  # RDS Proxy presents a publicly trusted chain
    settings = Settings.from_env(environment)
    assert settings.valkey.auth == "password"
    assert settings.valkey.password_secret_arn == "arn:auth-token"
    assert settings.valkey.cluster is True
    assert settings.valkey.port == 6380


def test_tunable_settings_from_config_reach_the_environment() -> None:
    config = with_section(config_for("dev"), "functions", settings={"TTL_PRODUCT": "600"})
    environment = function_environment(config=config, cache=IAM_CACHE, database=DIRECT_DB)
    assert environment["TTL_PRODUCT"] == "600"
    settings = Settings.from_env({**environment, "AWS_REGION": "us-east-1"})
    assert settings.cache.ttls["product"] == 600


def test_only_the_migrator_is_given_the_master_credentials() -> None:
    from infra.function_settings import migrator_environment
    from lambda_app.handlers.migration_request import CODE_VERSION_ENV

    serving = function_environment(config=config_for("dev"), cache=IAM_CACHE, database=DIRECT_DB)
    migrator = migrator_environment(serving, DIRECT_DB, code_version="v9")
    assert serving["DB_SECRET_ARN"] == "arn:db-secret" and "DB_APP_SECRET_ARN" not in serving
    assert migrator["DB_SECRET_ARN"] == "arn:db-master"
    assert migrator["DB_APP_SECRET_ARN"] == "arn:db-secret"
    # Its code version is read by the migrate handler itself, not the settings.
    assert set(migrator) - contract_names() == {CODE_VERSION_ENV}
    assert migrator[CODE_VERSION_ENV] == "v9"
    parsed = Settings.from_env({**migrator, "AWS_REGION": "us-east-1"})
    assert parsed.db.app_secret_arn == "arn:db-secret"


def test_every_tunable_setting_is_a_variable_the_runtime_reads() -> None:
    assert set(get_args(TunableSetting)) <= ENVIRONMENT_VARIABLES
