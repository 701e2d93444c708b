"""The functions' environment: the settings contract of ``lambda_app/settings.py``.

Why here and nowhere else: infra knows the runtime only through these variable names.
Connection values come from the resources (endpoints, secret ARNs); tuning values come
from config (``functions.*``, ``valkey.maxmemory_policy``).
"""

from __future__ import annotations

from infra.bundling import LAMBDA_TASK_ROOT, RDS_CA_BUNDLE
from infra.config import AppConfig
from infra.constructs.mysql_database import DatabaseEndpoint
from infra.constructs.valkey_cache import CacheEndpoint
from lambda_app import metric_names
from lambda_app.handlers.migration_request import CODE_VERSION_ENV


def function_environment(
    *, config: AppConfig, cache: CacheEndpoint, database: DatabaseEndpoint
) -> dict[str, str]:
    """Environment variables shared by the api, warmer and migrate functions."""
    functions = config.functions
    environment: dict[str, str] = {
        "VALKEY_HOST": cache.host,
        "VALKEY_PORT": str(cache.port),
        "VALKEY_TLS": "true",
        "VALKEY_CLUSTER": "true" if cache.cluster else "false",
        "VALKEY_AUTH": cache.auth,
        "DB_HOST": database.host,
        "DB_PORT": str(database.port),
        "DB_NAME": database.name,
        "DB_SECRET_ARN": database.secret_arn,
        "DB_TLS": "true",
        "CACHE_MAXMEMORY_POLICY": config.valkey.maxmemory_policy,
        "RATE_LIMIT_REQUESTS": str(functions.rate_limit_requests),
        "RATE_LIMIT_WINDOW": str(functions.rate_limit_window_seconds),
        "RATE_LIMIT_ALGORITHM": functions.rate_limit_algorithm,
        metric_names.SERVICE_ENV: functions.service_name,
        metric_names.NAMESPACE_ENV: functions.metrics_namespace,
        "LOG_LEVEL": functions.log_level,
    }
    if not functions.tracing:
        # Lambda's active tracing is off too; without this the X-Ray SDK would complain.
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    if cache.auth == "iam":
        assert cache.username is not None
        environment["VALKEY_USERNAME"] = cache.username
        environment["VALKEY_REPLICATION_GROUP_ID"] = cache.replication_group_id
    else:
        assert cache.password_secret_arn is not None
        environment["VALKEY_PASSWORD_SECRET_ARN"] = cache.password_secret_arn
    if not database.via_proxy:
        # RDS instance certificates chain to the RDS CA, which no runtime trusts by
        # default; the bundle ships in the asset. RDS Proxy uses public Amazon roots.
        environment["DB_CA_FILE"] = f"{LAMBDA_TASK_ROOT}/{RDS_CA_BUNDLE}"
    # Tunables (TTLs, timeouts...); config only accepts names that are not derived above.
    environment.update(functions.settings.items())
    return environment


def migrator_environment(
    environment: dict[str, str], database: DatabaseEndpoint, *, code_version: str
) -> dict[str, str]:
    """The migrator's: the master user to migrate with, the application user's secret,
    whose user it creates and grants row access, and its own code version (rollbacks:
    :mod:`lambda_app.handlers.migration_request`)."""
    return {
        **environment,
        "DB_SECRET_ARN": database.master_secret_arn,
        "DB_APP_SECRET_ARN": database.secret_arn,
        CODE_VERSION_ENV: code_version,
    }
