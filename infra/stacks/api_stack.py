"""API: the three functions, the HTTP API, the warmer schedule and the deploy-time migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.bundling import lambda_code
from infra.config import AppConfig
from infra.constructs.app_function import AppFunction
from infra.constructs.http_api import HttpApiEndpoint
from infra.constructs.migration import MigrationRunner
from infra.constructs.mysql_database import MysqlDatabase
from infra.constructs.network import Network
from infra.constructs.valkey_cache import ValkeyCache
from infra.conversions import log_removal
from infra.function_settings import function_environment, migrator_environment
from infra.stacks.base import ConfiguredStack

HANDLERS = {
    "api": "lambda_app.handlers.api.handler",
    "warmer": "lambda_app.handlers.warmer.handler",
    "migrate": "lambda_app.handlers.migrate.handler",
}


class ApiStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        network: Network,
        cache: ValkeyCache,
        database: MysqlDatabase,
        project_root: Path,
        bundle: bool,
        allow_source_only_bundle: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            config=config,
            description=f"{config.prefix}: Lambda functions, HTTP API, warmer, migrations",
            **kwargs,
        )
        functions = config.functions
        logs_kept = log_removal(config.removal_policy)
        self.code = lambda_code(
            project_root,
            bundle=bundle,
            ca_bundle_url=None if database.endpoint.via_proxy else config.mysql.ca_bundle_url,
            allow_source_only=allow_source_only_bundle,
        )
        environment = function_environment(
            config=config, cache=cache.endpoint, database=database.endpoint
        )

        def make(
            name: str, description: str, timeout: int, concurrency: int | None,
            *, snapstart: bool = False, env: dict[str, str] = environment,
        ) -> AppFunction:
            return AppFunction(
                self,
                f"{name.capitalize()}Function",
                code=self.code.code,
                handler=HANDLERS[name],
                description=f"{config.prefix} {description}",
                vpc=network.vpc,
                subnets=network.function_subnets,
                security_group=network.function_security_group,
                environment=env,
                memory_mb=functions.memory_mb,
                timeout=Duration.seconds(timeout),
                reserved_concurrency=concurrency,
                log_retention_days=functions.log_retention_days,
                tracing=functions.tracing,
                log_removal=logs_kept,
                snapstart=snapstart,
            )

        self.api_function = make(
            "api",
            "HTTP API handler",
            functions.api_timeout_seconds,
            functions.api_reserved_concurrency,
            snapstart=functions.api_snapstart,
        )
        self.warmer_function = make(
            "warmer",
            "cache warmer (scheduled)",
            functions.warmer_timeout_seconds,
            functions.warmer_reserved_concurrency,
        )
        self.migrate_function = make(
            "migrate",
            "schema migrations (on deploy)",
            functions.migrate_timeout_seconds,
            functions.migrate_reserved_concurrency,
            env=migrator_environment(environment, database.endpoint,
                                     code_version=self.code.version),
        )
        for reader in (self.api_function, self.warmer_function):
            cache.grant_connect(reader.function)
            database.grant_connect(reader.function)
        database.grant_migrate(self.migrate_function.function)

        self.http_api = HttpApiEndpoint(
            self,
            "HttpApi",
            handler=self.api_function.invoked,
            config=config.api,
            name=config.prefix,
            log_removal=logs_kept,
        )
        # New code or a new database instance (new endpoint) runs the migrations again.
        self.migration = MigrationRunner(
            self,
            "Migration",
            migrate_function=self.migrate_function.function,
            code_version=self.code.version,
            triggers={"DatabaseHost": database.endpoint.host},
            function_timeout=Duration.seconds(functions.migrate_timeout_seconds),
            log_retention_days=functions.log_retention_days,
            log_removal=logs_kept,
        )
        self.warmer_rule = events.Rule(
            self,
            "WarmerSchedule",
            description=f"Runs the {config.prefix} cache warmer",
            schedule=events.Schedule.rate(Duration.minutes(functions.warmer_rate_minutes)),
            targets=[targets.LambdaFunction(self.warmer_function.function, retry_attempts=0)],
        )
        # EventBridge invokes asynchronously: without this Lambda retries a failed warm
        # twice more, for up to 6 h. The next tick is the retry; an event older than one
        # interval is stale.
        self.warmer_function.function.configure_async_invoke(
            retry_attempts=0,
            max_event_age=Duration.minutes(max(1, functions.warmer_rate_minutes)),
        )
        # New code goes live only once the schema it expects is in place: the functions
        # that serve (and the schedule) wait for the migration to succeed.
        for dependent in (self.api_function.function, self.warmer_function.function,
                          self.warmer_rule):
            dependent.node.add_dependency(self.migration.resource)
        CfnOutput(self, "ApiUrl", value=self.http_api.url, description="HTTP API base URL")
        CfnOutput(
            self,
            "SchemaVersion",
            value=self.migration.resource.get_att_string("SchemaVersion"),
            description="database schema version the deploy's migration left (ops verify)",
        )

    @property
    def functions(self) -> dict[str, AppFunction]:
        return {
            "api": self.api_function,
            "warmer": self.warmer_function,
            "migrate": self.migrate_function,
        }
