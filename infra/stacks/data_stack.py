"""Data (stateful): the Valkey cache and the MySQL database.

Kept apart from the functions so that redeploying or deleting the API never touches
state; termination protection and snapshot-on-delete come from config.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from infra.config import AppConfig
from infra.constructs.mysql_database import MysqlDatabase
from infra.constructs.network import Network
from infra.constructs.valkey_cache import ValkeyCache
from infra.stacks.base import ConfiguredStack


class DataStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        network: Network,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"{config.prefix}: ElastiCache for Valkey and RDS for MySQL (stateful)",
            **kwargs,
        )
        self.cache = ValkeyCache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.data_subnets,
            client_security_group=network.function_security_group,
            config=config.valkey,
            name=config.prefix,
            removal_policy=config.removal_policy,
        )
        self.database = MysqlDatabase(
            self,
            "Database",
            vpc=network.vpc,
            subnets=network.data_subnets,
            client_security_group=network.function_security_group,
            config=config.mysql,
            name=config.prefix,
            removal_policy=config.removal_policy,
        )
        CfnOutput(
            self,
            "CacheEndpoint",
            value=self.cache.endpoint.host,
            description="Valkey endpoint (primary, or configuration endpoint in cluster mode)",
        )
        CfnOutput(self, "CachePort", value=str(self.cache.endpoint.port))
        CfnOutput(
            self,
            "DatabaseEndpoint",
            value=self.database.endpoint.host,
            description="MySQL endpoint (RDS Proxy when enabled)",
        )
        CfnOutput(
            self,
            "DatabaseSecretArn",
            value=self.database.secret.secret_arn,
            description="Secrets Manager secret with the MySQL master credentials (migrator)",
        )
        CfnOutput(
            self,
            "DatabaseAppSecretArn",
            value=self.database.app_secret.secret_arn,
            description="Secrets Manager secret of the row-only application user",
        )
