"""``verify``: a marking-style scorecard of a deployed environment.

Each check is one line below: what it is worth, the AWS calls it reads through (shown
in ``--json`` so a reader knows which API answered it), and which judge decides.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from scripts.ops import judges, probes
from scripts.ops.argtypes import positive_float
from scripts.ops.errors import EXIT_FAILED, EXIT_OK
from scripts.ops.http import HttpError
from scripts.ops.inventory import Inventory
from scripts.ops.judges import Verdict
from scripts.ops.output import print_json, print_text, progress
from scripts.ops.scorecard import Check, Scorecard, score

if TYPE_CHECKING:
    from scripts.ops.parents import Parents

RG = "elasticache:DescribeReplicationGroups"
CC = "elasticache:DescribeCacheClusters"
CPG = "elasticache:DescribeCacheParameterGroups"
CP = "elasticache:DescribeCacheParameters"
DB = "rds:DescribeDBInstances"
DBP = "rds:DescribeDBParameters"
FN = "lambda:GetFunctionConfiguration"
SUBNETS = "ec2:DescribeSubnets"
SG = "ec2:DescribeSecurityGroups"
ALARMS = "cloudwatch:DescribeAlarms"
STACKS = "cloudformation:ListStackResources"


def _maxmemory_policy(inv: Inventory) -> Verdict:
    expected = judges.expected_setting(
        inv.functions(), "CACHE_MAXMEMORY_POLICY", judges.DEFAULT_POLICY
    )
    return judges.maxmemory_policy(inv.cache_parameters(), expected)


def _cache_auth(inv: Inventory) -> Verdict:
    expected = judges.expected_setting(inv.functions(), "VALKEY_AUTH", judges.DEFAULT_AUTH)
    return judges.cache_auth(inv.replication_group(), expected)


def _functions_in_vpc(inv: Inventory) -> Verdict:
    return judges.functions_in_vpc(inv.functions(), inv.function_subnet_vpcs(), inv.data_vpc())


def _api_answers(inv: Inventory) -> Verdict:
    try:
        reply = inv.api_health()
    except HttpError as exc:
        return Verdict(False, str(exc))
    return judges.api_health(reply.status, reply.json())


def _api_auth(inv: Inventory) -> Verdict:
    try:
        unsigned, signed = probes.auth_probe(inv)
    except HttpError as exc:
        return Verdict(False, str(exc))
    return judges.api_auth(unsigned, signed)


def _metrics_flowing(inv: Inventory) -> Verdict:
    return judges.metrics_flowing(probes.datapoints(inv, probes.dashboard_app_metrics(inv)))


def _schema_current(inv: Inventory) -> Verdict:
    return judges.schema_current(probes.schema_version(inv), probes.latest_schema_version())


def _cache_only_functions(inv: Inventory) -> Verdict:
    allowed = judges.function_security_groups(inv.functions())
    return judges.admits_only(inv.cache_security_groups(), allowed)


def _db_only_functions(inv: Inventory) -> Verdict:
    """The DB admits the functions, or an RDS Proxy that itself admits only them."""
    functions = judges.function_security_groups(inv.functions())
    proxies = inv.db_proxy_security_groups()
    direct = judges.admits_only(inv.db_security_groups(), functions | proxies)
    if not direct.ok or not proxies:
        return direct
    proxy = judges.admits_only(inv.security_groups(sorted(proxies)), functions)
    return Verdict(proxy.ok, f"{direct.detail} (RDS Proxy); the proxy {proxy.detail}")


CHECKS: tuple[Check[Inventory], ...] = (
    Check(
        "cache.engine",
        "cache engine is valkey",
        5,
        (RG, CC),
        lambda inv: judges.cache_engine(inv.replication_group(), inv.cache_cluster()),
    ),
    Check(
        "cache.version",
        "valkey version >= 8.0",
        5,
        (RG, CC),
        lambda inv: judges.cache_version(inv.cache_cluster()),
    ),
    Check(
        "cache.parameter_family",
        "custom parameter group of the engine's family",
        5,
        (RG, CC, CPG),
        lambda inv: judges.parameter_family(
            inv.cache_parameter_group(), str(inv.cache_cluster().get("EngineVersion", ""))
        ),
    ),
    Check(
        "cache.maxmemory_policy",
        "maxmemory-policy evicts, as the app expects",
        10,
        (RG, CC, CP, FN),
        _maxmemory_policy,
    ),
    Check(
        "cache.multi_az",
        "cache Multi-AZ with automatic failover",
        10,
        (RG,),
        lambda inv: judges.multi_az(inv.replication_group()),
    ),
    Check(
        "cache.tls",
        "cache TLS required",
        10,
        (RG,),
        lambda inv: judges.cache_tls(inv.replication_group()),
    ),
    Check(
        "cache.at_rest",
        "cache encrypted at rest",
        5,
        (RG,),
        lambda inv: judges.cache_at_rest(inv.replication_group()),
    ),
    Check("cache.auth", "cache auth mode matches the functions", 10, (RG, FN), _cache_auth),
    Check(
        "db.engine",
        "database engine is mysql",
        5,
        (DB,),
        lambda inv: judges.db_engine(inv.db_instance()),
    ),
    Check(
        "db.private",
        "database not publicly accessible",
        10,
        (DB,),
        lambda inv: judges.db_private(inv.db_instance()),
    ),
    Check(
        "db.encrypted",
        "database storage encrypted",
        5,
        (DB,),
        lambda inv: judges.db_encrypted(inv.db_instance()),
    ),
    Check(
        "db.tls",
        "database requires TLS",
        10,
        (DB, DBP),
        lambda inv: judges.db_tls(inv.db_parameters()),
    ),
    Check(
        "functions.vpc",
        "functions run in the data VPC",
        10,
        (STACKS, FN, SUBNETS, DB),
        _functions_in_vpc,
    ),
    Check(
        "network.cache_sg",
        "cache security groups admit only the functions",
        10,
        (RG, CC, SG, FN),
        _cache_only_functions,
    ),
    Check(
        "network.db_sg",
        "database security groups admit only the functions",
        10,
        (DB, SG, FN, "rds:DescribeDBProxies"),
        _db_only_functions,
    ),
    Check(
        "alarms.present",
        "alarms on cache, database and API",
        5,
        (STACKS, ALARMS),
        lambda inv: judges.alarms_cover(inv.alarms()),
    ),
    Check(
        "api.health",
        "the API answers GET /health",
        10,
        ("cloudformation:DescribeStacks",),
        _api_answers,
    ),
    Check(
        "alarms.subscriber",
        "the alarm topic has a confirmed subscription",
        5,
        (STACKS, "sns:ListSubscriptionsByTopic"),
        lambda inv: judges.alarm_subscriber(probes.alarm_subscriptions(inv)),
    ),
    Check(
        "metrics.flowing",
        "every app metric the dashboard graphs has data (run ops smoke first)",
        5,
        ("cloudwatch:GetDashboard", "cloudwatch:GetMetricData"),
        _metrics_flowing,
    ),
    Check(
        "api.auth",
        "operator routes refuse an unsigned request and serve a signed one",
        10,
        ("cloudformation:DescribeStacks", "execute-api (SigV4)"),
        _api_auth,
    ),
    Check(
        "migration.current",
        "the deploy-time migration reached this code's schema version",
        5,
        ("cloudformation:DescribeStacks",),
        _schema_current,
    ),
)


def explain_failure(exc: BaseException) -> str:
    """One line for why a check could not read its facts."""
    from scripts.ops.aws import explain

    if isinstance(exc, NotImplementedError):  # what moto raises for an API it lacks
        return f"not available here: {exc}"
    return " ".join((explain(exc) or str(exc) or type(exc).__name__).split())


def verify(inventory: Inventory, *, show_progress: bool = True) -> Scorecard:
    """Run every check against one environment (its stacks must exist)."""
    inventory.require_stacks()
    with progress(total=len(CHECKS), desc="verify", unit="check", enabled=show_progress) as bar:

        def advance(_: object) -> None:
            bar.update()

        return score(CHECKS, inventory, explain_failure, on_result=advance)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Parents) -> None:
    parser = sub.add_parser(
        "verify",
        parents=[parents.aws, parents.json],
        help="score a deployed environment against the reference settings",
        description="Read the environment through boto3 and its stack outputs and print a "
        "PASS/FAIL scorecard with points. Exit code 1 unless every check passes.",
    )
    parser.add_argument(
        "--http-timeout",
        type=positive_float,
        default=5.0,
        help="seconds for GET /health (default: 5)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    inventory = Inventory.from_args(args, http_timeout=args.http_timeout)
    card = verify(inventory, show_progress=not args.json)
    if args.json:
        print_json({"env": args.env, "stacks": sorted(inventory.stacks()), **card.to_json()})
    else:
        print_text(f"verify {args.env} ({', '.join(sorted(inventory.stacks()))})\n")
        print_text(card.render())
    return EXIT_OK if card.passed else EXIT_FAILED
