"""README's layout lists every top-level module and package, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LISTED_TREES = ("lambda_app", "infra", "scripts", "lambda_app/caching")


def layout_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def named_paths() -> set[str]:
    """Every path the block names: a first column, or a sub-list of caching modules."""
    names: set[str] = set()
    for line in layout_block().splitlines():
        if line.startswith("  "):  # a caching sub-list: "  a.py, b.py   what they do"
            modules = re.split(r"\s{2,}", line.strip())[0]
            names.update(f"lambda_app/caching/{m.strip()}" for m in modules.split(","))
        elif line.strip():
            first = re.split(r"\s{2,}", line.strip())[0]
            base = first.split(",")[0].rsplit("/", 1)[0] if "/" in first else ""
            for raw in first.split(","):
                part = raw.strip()
                names.add(part if "/" in part or not base else f"{base}/{part}")
    return {name.rstrip("/") for name in names}


def test_every_named_path_exists() -> None:
    missing = sorted(name for name in named_paths() if not (ROOT / name).exists())
    assert missing == []


@pytest.mark.parametrize("tree", LISTED_TREES)
def test_every_module_of_the_tree_is_named(tree: str) -> None:
    entries = {
        f"{tree}/{path.name}"
        for path in (ROOT / tree).iterdir()
        if not path.name.startswith(("_", "."))
        and (path.suffix in (".py", ".sh") or (path / "__init__.py").exists())
    }
    named = named_paths()
    assert sorted(entry for entry in entries if entry not in named) == []
