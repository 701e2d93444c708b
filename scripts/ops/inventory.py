"""What a deployed environment is made of, read through boto3 and the stack outputs.

Each fact is one small method over one or two describe calls, remembered after the first
read (or the first failure) so checks that share a fact share the call. Resources are
found from the stacks themselves (``ListStackResources``) and, where a stack does not
list them, from the endpoints the stacks output; nothing depends on guessed names.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from scripts.ops.aws import error_code
from scripts.ops.errors import OpsError
from scripts.ops.http import HttpClient, Response
from scripts.ops.project import APP_HANDLER_PREFIX, env_stack_names, find_output

T = TypeVar("T")

REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"
DB_INSTANCE = "AWS::RDS::DBInstance"
DB_PROXY = "AWS::RDS::DBProxy"
FUNCTION = "AWS::Lambda::Function"
ALARM = "AWS::CloudWatch::Alarm"


class Unreadable(OpsError):
    """A fact the environment should have could not be found."""


class Inventory:
    """Lazy, memoised reads of one environment's stacks and resources."""

    def __init__(
        self, session: Any, stack_names: dict[str, str], *, http_timeout: float = 5.0
    ) -> None:
        self.session = session
        self.stack_names = stack_names
        self.http_timeout = http_timeout
        self._memo: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}

    # -- plumbing ---------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def _once(self, key: str, read: Callable[[], T]) -> T:
        """``read()`` the first time; later calls return (or re-raise) what it gave."""
        if key not in self._memo:
            try:
                self._memo[key] = (True, read())
            except Exception as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    # -- stacks -----------------------------------------------------------------------

    def stacks(self) -> dict[str, dict[str, Any]]:
        """The environment's stacks that exist, by name."""
        return self._once("stacks", self._read_stacks)

    def _read_stacks(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for name in self.stack_names.values():
            try:
                stack = self.client("cloudformation").describe_stacks(StackName=name)
            except Exception as exc:
                if error_code(exc) == "ValidationError":  # "Stack ... does not exist"
                    continue
                raise
            found[name] = stack["Stacks"][0]
        return found

    def require_stacks(self) -> dict[str, dict[str, Any]]:
        stacks = self.stacks()
        if not stacks:
            names = ", ".join(self.stack_names.values())
            raise OpsError(f"no stacks found ({names}): deploy first, or check --prefix/--region")
        return stacks

    def outputs(self) -> dict[str, str]:
        """Every output of every stack of the environment, by output key."""
        return {
            o["OutputKey"]: o["OutputValue"]
            for stack in self.stacks().values()
            for o in stack.get("Outputs") or []
        }

    def output(self, what: str) -> str:
        value = find_output(self.outputs(), what)
        if value is None:
            raise Unreadable(f"no stack output for {what} in {', '.join(self.stacks())}")
        return value

    def resources(self, resource_type: str) -> list[str]:
        """Physical IDs of the stacks' resources of one CloudFormation type."""
        every = self._once("resources", self._read_resources)
        return every.get(resource_type, [])

    def _read_resources(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in self.stacks():
            for item in self._pages(
                "cloudformation", "list_stack_resources", "StackResourceSummaries", StackName=name
            ):
                if item.get("PhysicalResourceId"):
                    found.setdefault(item["ResourceType"], []).append(item["PhysicalResourceId"])
        return found

    # -- cache ------------------------------------------------------------------------

    def replication_group(self) -> dict[str, Any]:
        return self._once("replication_group", self._read_replication_group)

    def _read_replication_group(self) -> dict[str, Any]:
        ids = self.resources(REPLICATION_GROUP)
        if ids:
            reply = self.client("elasticache").describe_replication_groups(
                ReplicationGroupId=ids[0]
            )
            return dict(reply["ReplicationGroups"][0])
        host = _host(self.output("cache_endpoint"))
        for group in self._pages("elasticache", "describe_replication_groups", "ReplicationGroups"):
            if host in _replication_group_hosts(group):
                return dict(group)
        raise Unreadable(f"no replication group in the stacks or with endpoint {host}")

    def cache_cluster(self) -> dict[str, Any]:
        """The first member node: it carries engine version, parameter group and SGs."""
        return self._once("cache_cluster", self._read_cache_cluster)

    def _read_cache_cluster(self) -> dict[str, Any]:
        members = self.replication_group().get("MemberClusters") or []
        if not members:
            raise Unreadable("the replication group has no member clusters")
        reply = self.client("elasticache").describe_cache_clusters(CacheClusterId=members[0])
        return dict(reply["CacheClusters"][0])

    def cache_parameter_group(self) -> dict[str, Any]:
        return self._once("cache_parameter_group", self._read_cache_parameter_group)

    def _cache_parameter_group_name(self) -> str:
        cluster = self.cache_cluster()
        name = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName")
        if not name:
            raise Unreadable(
                f"cache cluster {cluster.get('CacheClusterId')} names no parameter group"
            )
        return str(name)

    def _read_cache_parameter_group(self) -> dict[str, Any]:
        reply = self.client("elasticache").describe_cache_parameter_groups(
            CacheParameterGroupName=self._cache_parameter_group_name()
        )
        return dict(reply["CacheParameterGroups"][0])

    def cache_parameters(self) -> dict[str, str]:
        return self._once("cache_parameters", self._read_cache_parameters)

    def _read_cache_parameters(self) -> dict[str, str]:
        items = self._pages(
            "elasticache",
            "describe_cache_parameters",
            "Parameters",
            CacheParameterGroupName=self._cache_parameter_group_name(),
        )
        return {p["ParameterName"]: str(p.get("ParameterValue")) for p in items}

    def cache_security_groups(self) -> list[dict[str, Any]]:
        ids = [g["SecurityGroupId"] for g in self.cache_cluster().get("SecurityGroups") or []]
        if not ids:
            raise Unreadable("the cache cluster reports no security groups")
        return self.security_groups(ids)

    # -- database ---------------------------------------------------------------------

    def db_instance(self) -> dict[str, Any]:
        return self._once("db_instance", self._read_db_instance)

    def _read_db_instance(self) -> dict[str, Any]:
        ids = self.resources(DB_INSTANCE)
        if ids:
            reply = self.client("rds").describe_db_instances(DBInstanceIdentifier=ids[0])
            return dict(reply["DBInstances"][0])
        host = _host(self.output("db_endpoint"))
        for instance in self._pages("rds", "describe_db_instances", "DBInstances"):
            if (instance.get("Endpoint") or {}).get("Address") == host:
                return dict(instance)
        raise Unreadable(f"no DB instance in the stacks or with endpoint {host}")

    def db_parameters(self) -> dict[str, str]:
        return self._once("db_parameters", self._read_db_parameters)

    def _read_db_parameters(self) -> dict[str, str]:
        groups = self.db_instance().get("DBParameterGroups") or []
        if not groups:
            raise Unreadable("the DB instance names no parameter group")
        items = self._pages(
            "rds",
            "describe_db_parameters",
            "Parameters",
            DBParameterGroupName=groups[0]["DBParameterGroupName"],
        )
        return {p["ParameterName"]: str(p.get("ParameterValue")) for p in items}

    def db_security_groups(self) -> list[dict[str, Any]]:
        ids = [g["VpcSecurityGroupId"] for g in self.db_instance().get("VpcSecurityGroups") or []]
        if not ids:
            raise Unreadable("the DB instance reports no VPC security groups")
        return self.security_groups(ids)

    def db_proxy_security_groups(self) -> set[str]:
        """Security groups of the stacks' RDS Proxies (the DB admits them, not functions)."""
        found: set[str] = set()
        for name in self.resources(DB_PROXY):
            for proxy in self.client("rds").describe_db_proxies(DBProxyName=name)["DBProxies"]:
                found |= set(proxy.get("VpcSecurityGroupIds") or [])
        return found

    def data_vpc(self) -> str | None:
        """The VPC the database lives in (the cache shares it)."""
        return (self.db_instance().get("DBSubnetGroup") or {}).get("VpcId")

    # -- functions, network, alarms, API ----------------------------------------------

    def functions(self) -> list[dict[str, Any]]:
        """Configurations of the project's functions (handler ``lambda_app.handlers.*``)."""
        return self._once("functions", self._read_functions)

    def _read_functions(self) -> list[dict[str, Any]]:
        configs = [
            self.client("lambda").get_function_configuration(FunctionName=name)
            for name in self.resources(FUNCTION)
        ]
        mine = [
            dict(c) for c in configs if str(c.get("Handler", "")).startswith(APP_HANDLER_PREFIX)
        ]
        if not mine:
            raise Unreadable(f"no functions with a {APP_HANDLER_PREFIX}* handler in the stacks")
        return mine

    def subnet_vpcs(self, subnet_ids: list[str]) -> dict[str, str]:
        if not subnet_ids:
            return {}
        reply = self.client("ec2").describe_subnets(SubnetIds=sorted(set(subnet_ids)))
        return {s["SubnetId"]: s["VpcId"] for s in reply["Subnets"]}

    def function_subnet_vpcs(self) -> dict[str, str]:
        subnets = [
            s for fn in self.functions() for s in (fn.get("VpcConfig") or {}).get("SubnetIds") or []
        ]
        return self.subnet_vpcs(subnets)

    def security_groups(self, group_ids: list[str]) -> list[dict[str, Any]]:
        reply = self.client("ec2").describe_security_groups(GroupIds=sorted(set(group_ids)))
        return list(reply["SecurityGroups"])

    def alarms(self) -> list[dict[str, Any]]:
        """Alarms the stacks created, plus any whose dimensions name our resources."""
        return self._once("alarms", self._read_alarms)

    def _read_alarms(self) -> list[dict[str, Any]]:
        names = set(self.resources(ALARM))
        ours = self._resource_ids()
        found = []
        for alarm in self._pages("cloudwatch", "describe_alarms", "MetricAlarms"):
            dims = {str(d.get("Value")) for d in alarm.get("Dimensions") or []}
            for query in alarm.get("Metrics") or []:
                metric = (query.get("MetricStat") or {}).get("Metric") or {}
                dims |= {str(d.get("Value")) for d in metric.get("Dimensions") or []}
            if alarm["AlarmName"] in names or dims & ours:
                found.append(dict(alarm))
        return found

    def _resource_ids(self) -> set[str]:
        """IDs alarms use as dimension values; a part that cannot be read adds nothing."""
        ids: set[str] = set()
        readers: list[Callable[[], set[str]]] = [
            lambda: (
                {self.replication_group()["ReplicationGroupId"]}
                | set(self.replication_group().get("MemberClusters") or [])
            ),
            lambda: {self.db_instance()["DBInstanceIdentifier"]},
            lambda: {str(fn["FunctionName"]) for fn in self.functions()},
        ]
        for read in readers:
            try:
                ids |= read()
            except Exception:  # noqa: S112 - the matching check reports that failure
                continue
        return ids

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, http_timeout: float = 5.0) -> Inventory:
        """The inventory named by the shared --env/--prefix/--profile/--region options."""
        from scripts.ops.aws import session_for

        names = env_stack_names(args.env, args.prefix)
        return cls(session_for(args), names, http_timeout=http_timeout)

    def api_health(self) -> Response:
        client = HttpClient(self.output("api_url"), timeout=self.http_timeout)
        try:
            return client.get("/health")
        finally:
            client.close()


def _host(endpoint: str) -> str:
    """``host`` from ``host``, ``host:port`` or a URL."""
    text = endpoint.split("://", 1)[-1]
    return text.split("/", 1)[0].rsplit(":", 1)[0]


def _replication_group_hosts(group: dict[str, Any]) -> set[str]:
    hosts = {(group.get("ConfigurationEndpoint") or {}).get("Address")}
    for node_group in group.get("NodeGroups") or []:
        hosts.add((node_group.get("PrimaryEndpoint") or {}).get("Address"))
        hosts.add((node_group.get("ReaderEndpoint") or {}).get("Address"))
    return {h for h in hosts if h}
