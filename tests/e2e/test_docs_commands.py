"""Every command README.md and docs/ show, checked as written.

Each line of a ``bash`` block is classified, and an unknown kind of command fails the
test (so a new one gets a check):

* ``make T``: T is a target of the Makefile;
* ``python -m scripts.ops|local_stack|shipped_suite|container_suite ...``: the CLI's own
  parser accepts it
  (the AWS ones cannot run here; the local ones run in other tests);
* ``curl ...``: run for real, block by block (a block's ``TOKEN=$(...)`` feeds its next
  lines), against the served API: trusting loopback as ``make serve`` does, or verifying
  SigV4 as ``make serve-sigv4`` and API Gateway do;
* ``npx cdk ...``: the CLI's own parser accepts it (``--help`` after the command);
* ``openapi-python-client generate ...``: run for real against the served API;
* ``export``/``unset``/``eval``: shell state, applied to the block's run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import processes
from tests.e2e.conftest import served_api

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCAL_PORT = "8080"
DEPLOYED_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"


@dataclass(frozen=True)
class Command:
    where: str
    text: str

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)


def blocks() -> Iterator[tuple[str, list[Command]]]:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for number, match in enumerate(re.finditer(r"```(?:bash|sh)\n(.*?)```", text, re.S)):
            where = f"{path.name} block {number + 1}"
            lines = match.group(1).replace("\\\n", " ").splitlines()
            commands = [Command(where, line.strip()) for line in lines
                        if line.strip() and not line.strip().startswith("#")]
            yield where, commands


ALL = [command for _, commands in blocks() for command in commands]


def _targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z0-9-]+):", makefile, re.M))


#: The first word of a command, and the kind of check it gets.
KINDS = {"make": "make", "curl": "curl", ".venv/bin/awscurl": "curl", "npx": "npx",
         "export": "shell", "unset": "shell", "eval": "shell"}


def signs(command: Command) -> bool:
    return "--aws-sigv4" in command.text or command.words[0].endswith("awscurl")


def kind(command: Command) -> str:
    words = command.words
    first = words[0]
    if first.endswith("python") and words[1:2] == ["-m"]:
        return "python"
    if first.startswith("TOKEN=$(curl"):
        return "curl"
    if first.endswith("openapi-python-client"):
        return "generator"
    return KINDS.get(first, "unknown")


@pytest.mark.parametrize("command", ALL, ids=[f"{c.where}: {c.text[:50]}" for c in ALL])
def test_every_command_is_of_a_kind_this_file_checks(command):
    assert kind(command) != "unknown", f"{command.where}: no check for {command.text!r}"


MAKE = [c for c in ALL if kind(c) == "make"]


@pytest.mark.parametrize("command", MAKE, ids=[c.text[:40] for c in MAKE])
def test_make_targets_exist(command):
    words = [w for w in command.words[1:] if w != "&" and "=" not in w]
    assert words and set(words) <= _targets(), command.text


PYTHON = [c for c in ALL if kind(c) == "python"]


def _python_argv(command: Command) -> tuple[str, list[str]]:
    words = [w.replace("$API_URL", DEPLOYED_URL) for w in command.words]
    module, argv = words[2], words[3:]
    return module, argv


@pytest.mark.parametrize("command", PYTHON, ids=[c.text[:60] for c in PYTHON])
def test_python_commands_parse(command):
    module, argv = _python_argv(command)
    if module == "scripts.ops":
        from scripts.ops.cli import build_parser
    elif module == "scripts.local_stack":
        from scripts.local_stack import build_parser  # type: ignore[assignment]
    elif module == "scripts.shipped_suite":
        from scripts.shipped_suite import build_parser  # type: ignore[assignment]
    elif module == "scripts.container_suite":
        from scripts.container_suite import build_parser  # type: ignore[assignment]
    else:
        pytest.fail(f"{command.where}: no parser known for python -m {module}")
    build_parser().parse_args(argv)  # exits (fails the test) on anything it refuses


def test_the_eval_lines_run_a_parsed_command():
    for command in (c for c in ALL if c.text.startswith("eval ")):
        inner = re.search(r'"\$\((.*)\)"', command.text)
        assert inner is not None, command.text
        module, argv = _python_argv(Command(command.where, inner.group(1)))
        assert module == "scripts.local_stack" and argv == ["env"], command.text


NPX = [c for c in ALL if kind(c) == "npx"]


@pytest.mark.parametrize("command", NPX, ids=[c.text[:60] for c in NPX])
def test_cdk_commands_parse(command):
    from scripts.project_node import with_project_node

    words = command.words
    assert words[:2] == ["npx", "cdk"], command.text
    done = processes.run([*words, "--help"], cwd=ROOT, env=with_project_node(),
                         capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-500:]


# ----------------------------------------------------------------------- curl, for real


def _curl_blocks(signed: bool) -> list[tuple[str, list[Command]]]:
    found = []
    for where, commands in blocks():
        curls = [c for c in commands if kind(c) == "curl"]
        if curls and all(signs(c) == signed for c in curls):
            found.append((where, [c for c in commands if kind(c) in ("curl", "shell")
                                  and not c.text.startswith("eval ")]))
    return found


def _run_block(commands: list[Command], url: str, env: dict[str, str]) -> str:
    host_port = url.removeprefix("http://")
    script = "\n".join(
        re.sub(r"(localhost|127\.0\.0\.1):" + LOCAL_PORT, host_port, c.text)
        for c in commands
    )
    done = processes.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (script, done.stderr[-1000:])
    assert not re.search(r'\{"error":\s*"', done.stdout), (script, done.stdout[-1000:])
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **extra}


def test_the_local_curl_examples_run_as_written(valkey_server, mysql_server):
    found = _curl_blocks(signed=False)
    assert len(found) >= 2  # the local server and the login walk-through
    with served_api(valkey_server, mysql_server, "docs_curl", CACHE_PREFIX="docs",
                    RATE_LIMIT_REQUESTS="1000", LOGIN_RATE_LIMIT_REQUESTS="1000") as url:
        for _, commands in found:
            _run_block(commands, url, _clean_env())


@pytest.mark.parametrize("session_token", [None, "IQoJb3JpZ2luX2VjEXAMPLE"],
                         ids=["long-term keys", "temporary credentials"])
def test_the_signed_curl_examples_run_as_written(valkey_server, mysql_server, session_token):
    from scripts.local_sigv4 import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    found = _curl_blocks(signed=True)
    assert len(found) == 2  # the deployed API's, and make serve-sigv4's
    with served_api(valkey_server, mysql_server, "docs_sigv4", CACHE_PREFIX="docsv4",
                    RATE_LIMIT_REQUESTS="1000", serve={"principal": None, "sigv4": True}) as url:
        env = _clean_env(AWS_ACCESS_KEY_ID=LOCAL_ACCESS_KEY,
                         AWS_SECRET_ACCESS_KEY=LOCAL_SECRET_KEY, API_URL=url)
        if session_token:
            env["AWS_SESSION_TOKEN"] = session_token
        for _, commands in found:
            out = _run_block([c for c in commands if not c.text.startswith("unset")
                              or session_token is None], url, env)
            assert '"warmed"' in out


def test_an_unsigned_request_to_the_signed_server_is_refused(valkey_server, mysql_server):
    """The check above is not vacuous: the same curl without --aws-sigv4 gets 403."""
    with served_api(valkey_server, mysql_server, "docs_sigv4_neg", CACHE_PREFIX="docsneg",
                    serve={"principal": None, "sigv4": True}) as url:
        done = subprocess.run(["curl", "-s", "--json", '{"products_top": 1}',
                               f"{url}/cache/warm"], capture_output=True, text=True,
                              timeout=30, check=False)
    assert '"forbidden"' in done.stdout


GENERATE = [c for c in ALL if kind(c) == "generator"]


@pytest.mark.parametrize("command", GENERATE, ids=[c.text[:60] for c in GENERATE])
def test_the_client_generation_runs_as_written(command, api_url, tmp_path):
    port = api_url.rsplit(":", 1)[1]
    words = [w.replace(f"127.0.0.1:{LOCAL_PORT}", f"127.0.0.1:{port}") for w in command.words]
    words[0] = str(ROOT / words[0]) if words[0].startswith(".venv/") else words[0]
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    done = processes.run([*words, "--config", str(tmp_path / "config.yaml")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-1000:]
    assert (tmp_path / "caching_api" / "client.py").exists()
