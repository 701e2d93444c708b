"""App -> the four stacks of one environment, plus the cdk-nag checks.

Why a function shared by ``app.py`` and the tests: the tests synthesize exactly what
``cdk synth`` does, in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Tags

from infra.checkov import add_checkov_skips
from infra.config import AppConfig
from infra.constructs.monitored import MonitoredResources
from infra.stacks.api_stack import ApiStack
from infra.stacks.data_stack import DataStack
from infra.stacks.monitoring_stack import MonitoringStack
from infra.stacks.network_stack import NetworkStack

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Deployment:
    network: NetworkStack
    data: DataStack
    api: ApiStack
    monitoring: MonitoringStack


def build(
    app: App,
    config: AppConfig,
    *,
    bundle: bool,
    project_root: Path = PROJECT_ROOT,
    allow_source_only_bundle: bool = False,
) -> Deployment:
    network = NetworkStack(app, "Network", config=config)
    data = DataStack(app, "Data", config=config, network=network.network)
    api = ApiStack(
        app,
        "Api",
        config=config,
        network=network.network,
        cache=data.cache,
        database=data.database,
        project_root=project_root,
        bundle=bundle,
        allow_source_only_bundle=allow_source_only_bundle,
    )
    monitoring = MonitoringStack(
        app,
        "Monitoring",
        config=config,
        resources=MonitoredResources(
            cache=data.cache,
            database=data.database,
            functions={name: fn.function for name, fn in api.functions.items()},
            api=api.http_api.api,
            metrics_namespace=config.functions.metrics_namespace,
            service_name=config.functions.service_name,
        ),
    )
    for key, value in config.tags.items():
        # CDK marks proxy target groups taggable; CloudFormation's schema has no Tags there.
        Tags.of(app).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
    add_checkov_skips(app)
    return Deployment(network=network, data=data, api=api, monitoring=monitoring)
