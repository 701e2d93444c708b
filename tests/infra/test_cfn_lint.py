"""cfn-lint over every synthesized template of both environments: zero errors.

Two warnings are deliberate and ignored; any other warning fails too:
W3005 - a ``DependsOn`` that a ``GetAtt`` already implies, which CDK itself generates;
W3010 - hard-coded zones, which come from config (``network.availability_zones``) so that
synth needs no AWS lookup (acknowledged for CDK's own validator in the network construct).
"""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

from .conftest import Synthesized

pytestmark = pytest.mark.infra

IGNORED_RULES = {"W3005", "W3010"}


@pytest.mark.parametrize("stack_id", ["Network", "Data", "Api", "Monitoring"])
def test_template_lints_clean(synthesized: Synthesized, stack_id: str) -> None:
    matches = lint(json.dumps(synthesized.templates[stack_id]), regions=[synthesized.config.region])
    problems = [
        f"{match.rule.id} {match.message} ({'/'.join(str(p) for p in match.path)})"
        for match in matches
        if match.rule.id not in IGNORED_RULES and match.rule.id[0] in "EW"
    ]
    assert problems == []
