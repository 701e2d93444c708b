"""RDS for MySQL 8.4 in isolated subnets, TLS-only, credentials in Secrets Manager.

Why ``require_secure_transport=1`` in the parameter group: the server itself refuses
plaintext connections, so TLS cannot be switched off by a client setting. (A DB
*instance* parameter group takes ``1``; ``ON`` is the cluster parameter groups' form.) Optional RDS
Proxy (``mysql.proxy``) pools the functions' short-lived connections in production.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.config import MysqlConfig
from infra.conversions import data_removal, log_removal, plain_removal, retention
from infra.nag import acknowledge

#: RDS Proxy for MySQL always listens on MySQL's standard port.
PROXY_PORT = 3306


#: The application user's name in MySQL (its password is generated into its secret).
APP_USERNAME = "app_runtime"


def client_port(config: MysqlConfig) -> int:
    """The port the functions connect to: the proxy's when there is one, else the instance's."""
    return PROXY_PORT if config.proxy else config.port


@dataclass(frozen=True)
class DatabaseEndpoint:
    """What a client needs to connect; rendered into the functions' settings."""

    host: str
    port: int
    name: str
    #: The application user's secret: what the serving functions log in with.
    secret_arn: str
    via_proxy: bool
    #: The master user's: the migrator's alone (it creates the application user).
    master_secret_arn: str


class MysqlDatabase(Construct):
    """Exposes ``instance``, ``secret``, ``proxy``, ``security_group``, ``endpoint``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        client_security_group: ec2.ISecurityGroup,
        config: MysqlConfig,
        name: str,
        removal_policy: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.instance_identifier = f"{name}-mysql"
        keep = plain_removal(removal_policy)
        engine = rds.DatabaseInstanceEngine.mysql(
            version=rds.MysqlEngineVersion.of(config.engine_version, config.major_version)
        )
        self.parameter_group = rds.ParameterGroup(
            self,
            "ParameterGroup",
            engine=engine,
            description=f"{name}: TLS required",
            parameters={"require_secure_transport": "1", **log_parameters(config.cloudwatch_logs)},
        )
        # Generated name: a secret kept after a delete (to open its snapshot) must not
        # block the next deploy of the same environment.
        self.secret = rds.DatabaseSecret(self, "Credentials", username=config.master_username)
        self.secret.apply_removal_policy(keep)
        # Least privilege: the API and the warmer log in as a row-only user the migrator
        # creates (lambda_app/data/app_user.py); only the migrator holds the master's.
        self.app_secret = rds.DatabaseSecret(self, "AppCredentials", username=APP_USERNAME)
        self.app_secret.apply_removal_policy(keep)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"MySQL {name}: ingress from the functions (or their proxy) only",
            allow_all_outbound=False,
        )
        # RDS creates these groups itself if they are missing; creating them first (the
        # instance name is fixed) sets their retention without a log-retention Lambda.
        self.log_groups = [
            logs.LogGroup(
                self,
                f"Log-{log_type}",
                log_group_name=f"/aws/rds/instance/{self.instance_identifier}/{log_type}",
                retention=retention(config.log_retention_days),
                removal_policy=log_removal(removal_policy),
            )
            for log_type in config.cloudwatch_logs
        ]
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=self.instance_identifier,
            engine=engine,
            instance_type=ec2.InstanceType(config.instance_type.removeprefix("db.")),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            publicly_accessible=False,
            credentials=rds.Credentials.from_secret(self.secret),
            database_name=config.database_name,
            port=config.port,
            parameter_group=self.parameter_group,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=config.allocated_storage_gib,
            max_allocated_storage=config.max_allocated_storage_gib,
            multi_az=config.multi_az,
            backup_retention=Duration.days(config.backup_retention_days),
            delete_automated_backups=removal_policy == "destroy",
            deletion_protection=config.deletion_protection,
            removal_policy=data_removal(removal_policy),
            cloudwatch_logs_exports=list(config.cloudwatch_logs),
            monitoring_interval=(
                Duration.seconds(config.monitoring_interval_seconds)
                if config.monitoring_interval_seconds
                else None
            ),
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        if config.engine_version.count(".") == 1 or config.major_version == "9.7":
            reason = ("A major.minor EngineVersion (8.4) is what RDS documents for automatic "
                      "minor upgrades: RDS picks the current minor and upgrades it, so the "
                      "template neither drifts after an upgrade nor names a release RDS "
                      "retires. The resource schema's list holds only full releases, and "
                      "none of MySQL 9.7 yet, which RDS offers since 2026.")
            acknowledge(self.instance, "CloudFormation-Validate::E9006", reason)
            cast(CfnResource, self.instance.node.default_child).add_metadata(
                "cfn-lint", {"config": {"ignore_checks": ["E3691"]}, "reason": reason})
        for log_group in self.log_groups:
            self.instance.node.add_dependency(log_group)

        self.proxy: rds.DatabaseProxy | None = None
        if config.proxy:
            self.proxy = self._proxy(vpc, subnets, client_security_group, name)
        else:
            self.security_group.add_ingress_rule(
                client_security_group, ec2.Port.tcp(config.port), "MySQL from the functions"
            )
        self.endpoint = DatabaseEndpoint(
            host=self.proxy.endpoint if self.proxy else self.instance.db_instance_endpoint_address,
            port=client_port(config),
            name=config.database_name,
            secret_arn=self.app_secret.secret_arn,
            via_proxy=self.proxy is not None,
            master_secret_arn=self.secret.secret_arn,
        )
        self._suppress_findings()

    def grant_connect(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the application user's secret: the serving functions log in with it."""
        return self.app_secret.grant_read(grantee)

    def grant_migrate(self, grantee: iam.IGrantable) -> None:
        """The migrator: the master's secret to log in, the application user's to create
        that user with its password."""
        self.secret.grant_read(grantee)
        self.app_secret.grant_read(grantee)

    def _proxy(
        self,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        client_security_group: ec2.ISecurityGroup,
        name: str,
    ) -> rds.DatabaseProxy:
        proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description=f"RDS Proxy {name}: ingress from the functions only",
            allow_all_outbound=False,
        )
        proxy_security_group.add_ingress_rule(
            client_security_group, ec2.Port.tcp(PROXY_PORT), "MySQL from the functions"
        )
        # ProxyTarget.from_instance opens proxy -> instance on the instance's port itself
        # (ingress on the instance's group, egress on the proxy's): written again here, a
        # later change that removed one copy would silently keep the other.
        return rds.DatabaseProxy(
            self,
            "Proxy",
            db_proxy_name=f"{name}-proxy",
            proxy_target=rds.ProxyTarget.from_instance(self.instance),
            secrets=[self.secret, self.app_secret],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[proxy_security_group],
            require_tls=True,
        )

    def _suppress_findings(self) -> None:
        acknowledge(
            self.app_secret,
            "AwsSolutions-SMG4",
            "Rotation is an operator decision, as for the master secret; the migrator sets "
            "the application user's password from this secret on every deploy.",
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Rotation is an operator decision (add_rotation_single_user needs a rotation "
            "Lambda that reaches Secrets Manager and MySQL); the functions re-read the secret "
            "every 5 minutes, so a rotated password is picked up.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            "The port comes from config (mysql.port); ingress is limited to the functions' "
            "security group, which is the control that matters.",
        )
        if self.config.monitoring_interval_seconds:
            acknowledge(
                self.instance,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "Enhanced Monitoring's AWS-maintained policy only writes the RDSOSMetrics "
                "log group; CDK attaches it to the monitoring role it creates.",
            )
        if not self.config.multi_az:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS3",
                "Single-AZ by config (mysql.multi_az=false) to keep this environment cheap; "
                "production sets multi_az=true.",
            )
        if not self.config.deletion_protection:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS10",
                "Deletion protection off by config (mysql.deletion_protection=false) so this "
                "environment tears down in one step; production sets it.",
            )


#: What each exported MySQL log needs turned on: RDS exports only what the server
#: writes, and the slow-query and general logs are off by default (an export of them
#: alone ships nothing). Both go to files, which is what RDS exports from.
LOG_PARAMETERS: dict[str, dict[str, str]] = {
    "slowquery": {"slow_query_log": "1", "long_query_time": "1", "log_output": "FILE"},
    "general": {"general_log": "1", "log_output": "FILE"},
}


def log_parameters(exported: Iterable[str]) -> dict[str, str]:
    """The parameter group settings the exported log types need."""
    parameters: dict[str, str] = {}
    for log_type in exported:
        parameters.update(LOG_PARAMETERS.get(log_type, {}))
    return parameters
