"""Entering the Debian root: mounts, environment, and nothing left running.

Needs the root (``make test-shipped`` builds it, as root); skipped elsewhere.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scripts.debian_root import DebianRoot, Mount, RootError, _enter_script

pytestmark = pytest.mark.integration


def test_outer_mounts_come_first_and_make_their_own_mount_points(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "scratch").mkdir()
    script = _enter_script(Path("/r"), [Mount(tmp_path / "project", "/tmp/ci/main"),
                                        Mount(tmp_path / "scratch", "/tmp")], "/")
    scratch = script.index(f'mount --bind "{tmp_path / "scratch"}"')
    project = script.index(f'mount --bind "{tmp_path / "project"}"')
    assert scratch < project  # else the scratch /tmp would hide the project
    assert script.index('mkdir -p "$R/tmp/ci/main"') > scratch


@pytest.fixture
def root() -> DebianRoot:
    found = DebianRoot()
    if os.geteuid() != 0 or not found.is_current():
        pytest.skip("no Debian root here (make test-shipped builds it, as root)")
    return found


def test_a_project_under_tmp_is_visible_beside_a_scratch_tmp(root: DebianRoot,
                                                             tmp_path: Path) -> None:
    project, scratch = tmp_path / "ci" / "main", tmp_path / "scratch"
    project.mkdir(parents=True)
    scratch.mkdir()
    (project / "marker").write_text("here\n")
    out = root.run(["cat", f"{project}/marker"], env={}, capture=True, what="cat",
                   mounts=[Mount(project, str(project)), Mount(scratch, "/tmp")],
                   workdir=str(project))
    assert out == "here\n"


def test_only_the_given_environment_goes_in(root: DebianRoot,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKED_SECRET", "x")
    out = root.run(["sh", "-c", "env"], env={"CHOSEN": "1"}, capture=True, what="env")
    names = {line.split("=", 1)[0] for line in out.splitlines()}
    assert "CHOSEN" in names and "LEAKED_SECRET" not in names


def test_what_a_command_leaves_running_dies_with_it(root: DebianRoot) -> None:
    with pytest.raises(RootError):  # exit 3, leaving two sleepers behind
        root.run(["sh", "-c", "sleep 317 & sleep 318 & exit 3"], env={}, what="orphans")
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                            check=True).stdout
    assert "sleep 317" not in listed and "sleep 318" not in listed
