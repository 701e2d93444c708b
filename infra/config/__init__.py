"""The stack's configuration: ``cdk.json`` context -> one frozen :class:`AppConfig`.

``sections`` holds the models (every bound and choice), ``loader`` reads the context and
its ``-c`` overrides, ``checks`` rejects combinations no environment can deploy.
"""

from infra.config.loader import load_config, read_flag
from infra.config.sections import (
    VALKEY_ENGINE_FAMILIES,
    ApiConfig,
    AppConfig,
    FunctionsConfig,
    MonitoringConfig,
    MysqlConfig,
    NetworkConfig,
    ValkeyConfig,
)
from lambda_app.config_types import ConfigError

__all__ = [
    "VALKEY_ENGINE_FAMILIES",
    "ApiConfig",
    "AppConfig",
    "ConfigError",
    "FunctionsConfig",
    "MonitoringConfig",
    "MysqlConfig",
    "NetworkConfig",
    "ValkeyConfig",
    "load_config",
    "read_flag",
]
