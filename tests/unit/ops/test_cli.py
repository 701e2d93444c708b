"""The CLI contract: --help everywhere; bad input is one stderr line and exit code 2."""

from __future__ import annotations

import shlex

import pytest

from scripts.ops import cli
from scripts.ops.cli import main

pytestmark = pytest.mark.unit

COMMANDS = (
    "preflight",
    "deploy",
    "destroy",
    "bootstrap",
    "seed",
    "warm",
    "smoke",
    "verify",
    "load",
)


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err.strip()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m scripts.ops {command}")


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command}" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["launch"], "invalid choice: 'launch'"),
        (["smoke"], "the following arguments are required: BASE_URL"),
        (["smoke", "example.com"], "bad URL 'example.com': expected http:// or https://"),
        (["smoke", "ftp://example.com"], "expected http:// or https://"),
        (["smoke", "http://"], "no host name"),
        (["load", "http://127.0.0.1:99999"], "Port out of range"),
        (["warm", "http://h/?x=1"], "takes no query string"),
        (["verify", "--env", "qa"], "unknown environment 'qa' (choose from dev, prod)"),
        (["deploy", "-e", "staging"], "unknown environment 'staging'"),
        (["deploy", "--stack", "api"], "unrecognized arguments: --stack api"),
        (["deploy", "--alarm-email", "ops"], "expected an e-mail address, got 'ops'"),
        (["load", "http://h", "--duration", "0"], "expected a number > 0, got 0"),
        (["load", "http://h", "--duration", "nan"], "expected a finite number"),
        (["load", "http://h", "--concurrency", "-2"], "expected a whole number >= 1, got -2"),
        (["load", "http://h", "--concurrency", "two"], "expected a whole number, got 'two'"),
        (["load", "http://h", "--zipf-s", "-1"], "expected a number >= 0"),
        (["load", "http://h", "--max-error-rate", "5"], "expected a fraction within 0..1"),
        (["warm", "http://h", "--top", "0"], "expected a whole number >= 1, got 0"),
        (["smoke", "http://h", "--group", "nope"], "argument --group: invalid choice"),
        (["seed"], "one of the arguments --local --remote is required"),
        (["seed", "--local", "--remote"], "not allowed with argument"),
        (["seed", "--local", "--products", "0"], "expected a whole number >= 1, got 0"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    line = one_line_error(capsys)
    assert line.startswith("error: ")
    assert says in line
    assert line.endswith("--help)")


def test_unexpected_errors_are_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.ops import warm

    def broken(client: object, top: int) -> dict[str, object]:
        raise KeyError("multi\nline")

    monkeypatch.setattr(warm, "warm", broken)
    assert main(["warm", "http://127.0.0.1:9"]) == 1
    line = one_line_error(capsys)
    assert line == "error: unexpected KeyError: 'multi\\nline' (rerun with --debug)"
    with pytest.raises(KeyError):
        main(["--debug", "warm", "http://127.0.0.1:9"])


def test_one_line_collapses_whitespace() -> None:
    assert cli._one_line("a\n  b\tc ") == "a b c"
    assert cli._one_line("  ") == "unknown error"


def test_deploy_dry_run_prints_the_cdk_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The stacks go as a set, and the alarm subscriber prod requires reaches the synth."""
    code = main(shlex.split(
        "deploy -e prod --alarm-email ops@example.com -y --skip-preflight --dry-run"))
    words = capsys.readouterr().out.split()
    assert code == 0
    assert words[0].endswith("cdk")
    expected = "deploy --all -c env=prod -c monitoring.alarm_email=ops@example.com"
    assert words[1:] == [*expected.split(), "--require-approval", "never"]


def test_destroy_dry_run_with_a_custom_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(shlex.split("destroy --prefix demo --skip-preflight --dry-run --profile ops"))
    words = capsys.readouterr().out.split()
    assert code == 0
    assert words[1:] == shlex.split("destroy --all -c env=dev --profile ops")
