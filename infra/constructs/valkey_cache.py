"""ElastiCache for Valkey: a node-based replication group with its own parameter group.

Why node-based with a custom parameter group (not Serverless): the eviction policy is the
subject of this project, and only a parameter group lets us choose ``maxmemory-policy``
(and LFU tuning). Cluster mode is off by default (one primary, one replica, Multi-AZ);
``valkey.cluster_mode`` shards the keyspace for users who outgrow one node.

Access is RBAC: a user group whose default user is disabled and whose application user
authenticates with IAM (short-lived SigV4 tokens, nothing to rotate). ``valkey.auth =
password`` uses an AUTH token kept in Secrets Manager instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import ValkeyConfig
from infra.conversions import data_removal, plain_removal, retention
from infra.nag import acknowledge

ENGINE = "valkey"
#: Disabled default user: RBAC requires a user named "default"; "off" makes it unusable.
DISABLED_ACCESS = "off -@all"


@dataclass(frozen=True)
class CacheEndpoint:
    """What a client needs to connect; rendered into the functions' settings."""

    host: str
    port: int
    cluster: bool
    replication_group_id: str
    auth: str
    username: str | None
    password_secret_arn: str | None


class ValkeyCache(Construct):
    """Exposes ``replication_group``, ``parameter_group``, ``security_group``, ``endpoint``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        client_security_group: ec2.ISecurityGroup,
        config: ValkeyConfig,
        name: str,
        removal_policy: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.replication_group_id = name
        keep = plain_removal(removal_policy)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Valkey {name}: ingress from the functions only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            client_security_group, ec2.Port.tcp(config.port), "Valkey from the functions"
        )
        self.subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description=f"Isolated data subnets for {name}",
            subnet_ids=vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
        )
        self.parameter_group = elasticache.CfnParameterGroup(
            self,
            "ParameterGroup",
            cache_parameter_group_family=config.parameter_group_family,
            description=f"{name}: maxmemory-policy {config.maxmemory_policy}",
            properties=parameter_group_properties(config),
        )
        self.kms_key = kms.Key(
            self,
            "Key",
            description=f"Encrypts {name} data and snapshots at rest",
            enable_key_rotation=True,
            removal_policy=keep,
        )

        self.app_user: elasticache.CfnUser | None = None
        self.auth_secret: secretsmanager.Secret | None = None
        user_group_ids: list[str] | None = None
        auth_token: str | None = None
        self._user_group: elasticache.CfnUserGroup | None = None
        if config.auth == "iam":
            self._user_group = self._iam_user_group(name, keep)
            user_group_ids = [self._user_group.user_group_id]
        else:
            self.auth_secret = self._secret(
                "AuthToken", f"AUTH token of {name} (VALKEY_AUTH=password)", keep
            )
            auth_token = self.auth_secret.secret_value.unsafe_unwrap()

        self.slow_log_group: logs.LogGroup | None = None
        log_delivery = None
        if config.slow_log:
            self.slow_log_group = logs.LogGroup(
                self, "SlowLog", retention=retention(config.log_retention_days), removal_policy=keep
            )
            log_delivery = [_log_delivery("slow-log", self.slow_log_group)]

        nodes = config.nodes_per_shard
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_id=name,
            replication_group_description=f"Valkey cache {name}",
            engine=ENGINE,
            engine_version=config.engine_version,
            cache_node_type=config.node_type,
            cache_parameter_group_name=self.parameter_group.ref,
            cache_subnet_group_name=self.subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            port=config.port,
            cluster_mode="enabled" if config.cluster_mode else "disabled",
            num_node_groups=config.shards if config.cluster_mode else None,
            replicas_per_node_group=config.replicas_per_shard if config.cluster_mode else None,
            num_cache_clusters=None if config.cluster_mode else nodes,
            automatic_failover_enabled=config.cluster_mode or config.replicas_per_shard > 0,
            multi_az_enabled=config.multi_az,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=self.kms_key.key_arn,
            user_group_ids=user_group_ids,
            auth_token=auth_token,
            snapshot_retention_limit=config.snapshot_retention_days,
            snapshot_window=config.snapshot_window if config.snapshot_retention_days else None,
            preferred_maintenance_window=config.maintenance_window,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=log_delivery,
        )
        if self._user_group is not None:
            # The group is named, not referenced: without this CloudFormation may race them.
            self.replication_group.node.add_dependency(self._user_group)
        self.replication_group.apply_removal_policy(data_removal(removal_policy))
        self.endpoint = CacheEndpoint(
            host=(
                self.replication_group.attr_configuration_end_point_address
                if config.cluster_mode
                else self.replication_group.attr_primary_end_point_address
            ),
            port=config.port,
            cluster=config.cluster_mode,
            replication_group_id=name,
            auth=config.auth,
            username=self.app_user.user_name if self.app_user else None,
            password_secret_arn=self.auth_secret.secret_arn if self.auth_secret else None,
        )
        self._suppress_findings()

    @property
    def member_cluster_ids(self) -> list[str]:
        """Node ids ElastiCache derives from the group id; CloudWatch's ``CacheClusterId``."""
        name, nodes = self.replication_group_id, self.config.nodes_per_shard
        if not self.config.cluster_mode:
            return [f"{name}-{node:03d}" for node in range(1, nodes + 1)]
        return [
            f"{name}-{shard:04d}-{node:03d}"
            for shard in range(1, self.config.shards + 1)
            for node in range(1, nodes + 1)
        ]

    def grant_connect(self, grantee: iam.IGrantable) -> iam.Grant:
        """IAM auth: ``elasticache:Connect`` on this group and its user; password: the secret."""
        if self.auth_secret is not None:
            return self.auth_secret.grant_read(grantee)
        assert self.app_user is not None
        stack = Stack.of(self)
        arns = [
            stack.format_arn(
                service="elasticache",
                resource=resource,
                resource_name=resource_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for resource, resource_name in (
                ("replicationgroup", self.replication_group_id),
                ("user", self.app_user.user_id),
            )
        ]
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["elasticache:Connect"], resource_arns=arns
        )

    def _iam_user_group(self, name: str, keep: RemovalPolicy) -> elasticache.CfnUserGroup:
        default_password = self._secret(
            "DefaultUserPassword", f"Password of the disabled default user of {name}", keep
        )
        default_user = elasticache.CfnUser(
            self,
            "DefaultUser",
            engine=ENGINE,
            user_id=f"{name}-default",
            user_name="default",
            access_string=DISABLED_ACCESS,
            authentication_mode={
                "Type": "password",
                "Passwords": [default_password.secret_value.unsafe_unwrap()],
            },
        )
        # IAM authentication requires user id == user name.
        self.app_user = elasticache.CfnUser(
            self,
            "AppUser",
            engine=ENGINE,
            user_id=f"{name}-app",
            user_name=f"{name}-app",
            access_string=self.config.access_string,
            authentication_mode={"Type": "iam"},
        )
        user_group = elasticache.CfnUserGroup(
            self,
            "UserGroup",
            engine=ENGINE,
            user_group_id=f"{name}-users",
            user_ids=[default_user.user_id, self.app_user.user_id],
        )
        user_group.node.add_dependency(default_user, self.app_user)
        return user_group

    def _secret(
        self, construct_id: str, description: str, keep: RemovalPolicy
    ) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            # ElastiCache passwords: 16-128 printable characters without @, " or /.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=keep,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "An ElastiCache password changes through ModifyUser/ModifyReplicationGroup, which "
            "a generic rotation Lambda does not do; with IAM auth it belongs to a disabled user.",
        )
        return secret

    def _suppress_findings(self) -> None:
        acknowledge(
            self.replication_group,
            "AwsSolutions-AEC5",
            "The port comes from config (valkey.port); a non-default port is obscurity, not "
            "security: ingress is limited to the functions' security group.",
        )
        if not self.config.multi_az:
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC4",
                "Single-AZ by config (valkey.multi_az=false), e.g. a replica-less dev cache; "
                "the defaults keep a replica in another zone with automatic failover.",
            )
        if self.config.auth == "iam":
            acknowledge(
                self.replication_group,
                "AwsSolutions-AEC6",
                "Authentication is RBAC with IAM (SigV4 tokens) and the default user "
                "disabled, which is stronger than one shared AUTH token.",
            )


def parameter_group_properties(config: ValkeyConfig) -> dict[str, str]:
    """The parameter group: the eviction policy, the listpack limit for product hashes,
    optional LFU/LRU tuning, cluster mode."""
    properties = {
        "maxmemory-policy": config.maxmemory_policy,
        "cluster-enabled": "yes" if config.cluster_mode else "no",
        # Product hashes (about 120-character descriptions) stay compact listpacks.
        "hash-max-listpack-value": str(config.hash_max_listpack_value),
    }
    for parameter, value in (
        ("maxmemory-samples", config.maxmemory_samples),
        ("lfu-log-factor", config.lfu_log_factor),
        ("lfu-decay-time", config.lfu_decay_time),
    ):
        if value is not None:
            properties[parameter] = str(value)
    return properties


_Group = elasticache.CfnReplicationGroup


def _log_delivery(
    log_type: str, log_group: logs.ILogGroup
) -> _Group.LogDeliveryConfigurationRequestProperty:
    return _Group.LogDeliveryConfigurationRequestProperty(
        destination_type="cloudwatch-logs",
        log_format="json",
        log_type=log_type,
        destination_details=_Group.DestinationDetailsProperty(
            cloud_watch_logs_details=_Group.CloudWatchLogsDestinationDetailsProperty(
                log_group=log_group.log_group_name
            )
        ),
    )
