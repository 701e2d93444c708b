"""The first venv build's progress: one line per package, and a line every few seconds
while pip installs in silence."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest

from scripts.pip_progress import condense

pytestmark = pytest.mark.unit


def _pip(silence: float) -> Iterator[str]:
    yield "Collecting valkey==6.2.0\n"
    yield "  Downloading valkey-6.2.0-py3-none-any.whl (260 kB)\n"
    yield "Collecting PyMySQL==1.2.4\n"
    yield "Installing collected packages: valkey, PyMySQL\n"
    time.sleep(silence)  # pip writes nothing while it unpacks and compiles
    yield "Successfully installed PyMySQL-1.2.4 valkey-6.2.0\n"


def test_every_package_and_the_silent_install_show_progress():
    out = io.StringIO()
    condense(_pip(0.35), out, every=0.1)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["  [  1] valkey==6.2.0", "  [  2] PyMySQL==1.2.4",
                         "  installing 2 packages (pip prints nothing until it is done)"]
    beats = [line for line in lines if line.startswith("  still installing 2 packages: ")]
    assert len(beats) >= 2
    assert lines[-1] == "  installed 2 packages"


def test_no_heartbeat_outlives_the_install():
    out = io.StringIO()
    condense(_pip(0.0), out, every=0.05)
    time.sleep(0.15)
    assert "still installing" not in out.getvalue()
