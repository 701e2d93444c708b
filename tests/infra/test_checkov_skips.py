"""checkov's accepted findings: each written on the resources it covers, with a reason,
and none kept after the resource it excused is gone (``make checkov`` runs checkov)."""

from __future__ import annotations

import pytest

from infra.checkov import SKIPS

from .conftest import Synthesized

pytestmark = pytest.mark.infra


def _skips(synthesized: Synthesized) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for template in synthesized.templates.values():
        for logical, resource in template["Resources"].items():
            for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
                assert len(skip["comment"]) > 40, (logical, skip)
                found.setdefault(skip["id"], set()).add(logical)
    return found


def test_every_accepted_finding_lands_on_a_resource_with_its_reason(
    dev: Synthesized, prod: Synthesized
) -> None:
    seen = {check for synthesized in (dev, prod) for check in _skips(synthesized)}
    assert seen == {skip.check for skip in SKIPS}


def test_what_prod_configures_is_not_excused_there(prod: Synthesized) -> None:
    skips = _skips(prod)
    assert "CKV_AWS_157" not in skips  # Multi-AZ database
    assert "CKV_AWS_118" not in skips  # enhanced monitoring
