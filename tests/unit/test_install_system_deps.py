"""The set-up step ``make up``/``make test`` run: silent when a server is there, one line
saying what to run when it cannot install one itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import processes

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_system_deps.sh"


def _bin_with(tmp_path: Path, *programs: str) -> Path:
    """A PATH holding only ``programs`` (and what bash itself needs)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("bash", "cat", "id", "timeout", *programs):
        found = shutil.which(name)
        if found:
            (bindir / name).symlink_to(found)
    return bindir


def _run(bindir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return processes.run(
        [str(bindir / "bash"), str(SCRIPT), *args], capture_output=True, text=True,
        env={"PATH": str(bindir), "HOME": os.environ.get("HOME", "/tmp"), **env},
        timeout=60, check=False,
    )


def test_a_server_on_the_path_means_nothing_to_do(tmp_path):
    bindir = _bin_with(tmp_path)
    (bindir / "mariadbd").write_text("#!/bin/sh\n")
    (bindir / "mariadbd").chmod(0o755)
    result = _run(bindir, "--if-needed")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_db_host_of_your_own_means_nothing_to_do(tmp_path):
    result = _run(_bin_with(tmp_path), "--if-needed", DB_HOST="db.example.internal")
    assert (result.returncode, result.stderr) == (0, "")


def test_no_way_to_install_says_what_to_run(tmp_path):
    empty = tmp_path / "sbin"
    empty.mkdir()
    result = _run(_bin_with(tmp_path), "--if-needed", MYSQL_SBIN_DIRS=str(empty))
    assert result.returncode == 1
    assert "no MySQL-compatible server" in result.stderr
    assert "apt-get install mariadb-server" in result.stderr


def test_an_unknown_option_is_a_usage_error(tmp_path):
    result = _run(_bin_with(tmp_path), "--nope")
    assert result.returncode == 2 and result.stderr.startswith("usage:")
