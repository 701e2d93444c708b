"""The images docker-compose.yml names, and the override both container paths honour.

One fact, two readers: Compose resolves ``${VALKEY_IMAGE:-valkey/valkey:9.1}`` itself,
and ``scripts/servers`` resolves the same line for the containers the harness starts.
The Debian mirror the local images and the Debian root are built from is the host's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.debian_root import RootError, host_mirror
from scripts.servers.base import COMPOSE_FILE, compose_image, image_variable

pytestmark = pytest.mark.unit


def test_the_default_images_are_the_registry_ones_compose_names() -> None:
    assert compose_image("valkey", {}) == "valkey/valkey:9.1"
    assert compose_image("mysql", {}) == "mysql:8.4"


def test_the_override_variable_is_read_from_the_compose_file_and_honoured() -> None:
    assert image_variable("valkey") == "VALKEY_IMAGE"
    assert image_variable("mysql") == "MYSQL_IMAGE"
    for service in ("valkey", "mysql"):
        variable = image_variable(service)
        assert f"${{{variable}:-" in COMPOSE_FILE.read_text()
        assert compose_image(service, {variable: "local/x:1"}) == "local/x:1"
        assert compose_image(service, {variable: "  "}) == compose_image(service, {})


def test_an_unknown_service_is_an_error_naming_it() -> None:
    with pytest.raises(RuntimeError, match="'memcached'"):
        compose_image("memcached", {})


def test_the_mirror_comes_from_the_hosts_apt_sources(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    one_line = tmp_path / "sources.list"
    one_line.write_text(
        "# comment\ndeb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n")
    assert host_mirror([one_line]) == "http://mirror.example/debian"
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: https://other.example/debian\nSuites: bookworm\n")
    assert host_mirror([deb822]) == "https://other.example/debian"
    monkeypatch.setenv("DEBIAN_MIRROR", "http://chosen.example/debian")
    assert host_mirror([one_line]) == "http://chosen.example/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    empty = tmp_path / "sources.list"
    empty.write_text("deb http://security.example/debian-security bookworm-security main\n")
    with pytest.raises(RootError, match="DEBIAN_MIRROR"):
        host_mirror([empty])
