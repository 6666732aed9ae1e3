"""Usage errors of the click-based command line: one line on stderr, exit status 2, no traceback.

test_cli.py pins the messages scripts already see; these cover what click now validates
(integer ranges, the site directory, option values, unknown commands and leftover arguments).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aae_tracking_plugins import cli
from tests.cli_helpers import FLAGS, FULL_PAGE, one_error_line, run_cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "the following arguments are required: COMMAND (see 'aae-tracking --help')"),
        (
            ["publish", "SITE"],
            "argument COMMAND: invalid choice: 'publish' (choose from 'inject', 'check', "
            "'csp-hashes', 'collect', 'report') (see 'aae-tracking --help')",
        ),
        (
            ["check", "SITE", "--jobs", "two"],
            "argument --jobs/-j: must be a whole number >= 1, got 'two' "
            "(see 'aae-tracking check --help')",
        ),
        (
            ["check", "SITE", "-j", "-3"],
            "argument --jobs/-j: must be a whole number >= 1, got '-3' "
            "(see 'aae-tracking check --help')",
        ),
        (["check", "SITE", "--jobs"], "option '--jobs' requires an argument"),
        (["check", "FILE"], "SITE_DIR 'FILE' is not a directory"),
        (
            ["check", "SITE", "other"],
            "unrecognized arguments: other (see 'aae-tracking check --help')",
        ),
        (
            ["check", "SITE", "--jsn"],
            "unrecognized arguments: --jsn (did you mean --jobs or --json?) "
            "(see 'aae-tracking check --help')",
        ),
        (
            ["inject", "SITE", *FLAGS, "--quiet=yes"],
            "option '--quiet' does not take a value",
        ),
        (
            ["csp-hashes", "--facebook-pixel-id", "abc"],
            "--facebook-pixel-id: must be a Meta Pixel id",
        ),
    ],
    ids=[
        "no command",
        "unknown command",
        "jobs not a number",
        "jobs negative",
        "jobs without value",
        "file as SITE_DIR",
        "extra argument",
        "misspelt option",
        "value for a flag",
        "bad pixel id",
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    (tmp_path / "SITE").mkdir()
    (tmp_path / "SITE/index.html").write_bytes(FULL_PAGE)
    (tmp_path / "FILE").write_bytes(b"x")

    line = one_error_line(run_cli(*args, cwd=tmp_path))

    assert line.startswith("aae-tracking: error: " + expected), line
    assert (tmp_path / "SITE/index.html").read_bytes() == FULL_PAGE


def test_short_help_option_and_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-h"]) == 0
    assert "Commands:" in capsys.readouterr().out
    assert cli.main(["check", "-h"]) == 0
    text = capsys.readouterr().out
    assert "Usage: aae-tracking check [OPTIONS] SITE_DIR" in text
    assert "stale precompressed copy" in text


def test_main_is_the_console_script_and_the_module() -> None:
    """`python -m aae_tracking_plugins` and the `aae-tracking` script run the same main."""
    from aae_tracking_plugins import __main__ as module

    assert module.main is cli.main
    result = run_cli("csp-hashes")
    assert result.returncode == 0
    assert result.stdout.count("'sha256-") == 2
