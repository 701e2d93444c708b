"""Network: VPC, subnets, the functions' security group, VPC endpoint, flow logs."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from infra.config import AppConfig
from infra.constructs.mysql_database import client_port
from infra.constructs.network import Network
from infra.stacks.base import ConfiguredStack


class NetworkStack(ConfiguredStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"{config.prefix}: VPC, subnets, security groups, endpoints",
            **kwargs,
        )
        self.network = Network(
            self,
            "Network",
            config=config.network,
            cache_port=config.valkey.port,
            database_port=client_port(config.mysql),
            removal_policy=config.removal_policy,
            secret_tags=config.tags,
        )
