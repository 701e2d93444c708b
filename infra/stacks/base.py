"""Stack base: fixed environment and availability zones from config, no lookups.

Why override ``availability_zones``: with a concrete account and region, CDK would look
the zones up (credentials, network) during synth. The zones come from config instead, so
``cdk synth`` works offline and gives the same template everywhere.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Stack
from constructs import Construct

from infra.config import AppConfig


class ConfiguredStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any
    ) -> None:
        # A protected environment protects every stack: deleting the Network stack alone
        # would fail half-way on the data it still hosts.
        kwargs.setdefault("termination_protection", config.termination_protection)
        super().__init__(
            scope,
            construct_id,
            stack_name=config.stack_name(construct_id.lower()),
            env=Environment(account=config.account, region=config.region),
            **kwargs,
        )
        self.config = config

    @property
    def availability_zones(self) -> list[str]:
        return list(self.config.network.availability_zones)
