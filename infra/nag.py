"""cdk-nag (v3: a CDK validation plugin) registration and acknowledgments with reasons.

Why a helper: every acknowledgment must carry a reason, and v3 takes one rule (or one
``Rule[finding]``) per call; this keeps call sites to one readable line each.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

#: Validation reports name a finding ``<plugin>::<rule>``; cdk-nag's plugin is AwsSolutions.
NAG_PLUGIN = "AwsSolutions"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` and everything below it.

    ``rule_id`` is a cdk-nag rule such as ``AwsSolutions-IAM5[Resource::*]`` or an already
    prefixed id such as ``CloudFormation-Validate::W3010``.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    if "::" not in rule_id.split("[", 1)[0]:
        rule_id = f"{NAG_PLUGIN}::{rule_id}"
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def add_nag_checks(app: App) -> None:
    """Run the AwsSolutions pack on every template; a finding fails the synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
