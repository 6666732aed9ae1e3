"""Helpers of the command-line tests: a page, the flags, running the tool, one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aae_tracking_plugins.core.engine.charset import detect
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.html_oracle import browser_view

CONFIG = TrackingConfig("lp_spring_desk", "https://api.aae.com", "camp_spring_2026")
SNIPPET = render_snippet(CONFIG)
FLAGS = [
    "--landing-page-id",
    "lp_spring_desk",
    "--campaign-id",
    "camp_spring_2026",
    "--api-base-url",
    "https://api.aae.com",
]

FULL_PAGE = (
    "<!DOCTYPE html>\n<html lang='fr'>\n<head>\n<meta charset='utf-8'>\n<title>Café</title>\n"
    "</head>\n<body>\n<p>Bonjour, été €</p>\n</body>\n</html>\n"
).encode()


def write_site(root: Path, *groups: dict[str, bytes]) -> None:
    for group in groups:
        for name, data in group.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real tool in a new process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "aae_tracking_plugins", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def assert_tracked_losslessly(original: bytes, output: bytes) -> None:
    """One stub and one tracker where a browser runs them; every original byte kept."""
    encoding = detect(original)
    assert detect(output) == encoding
    head, body = SNIPPET.head.encode(encoding), SNIPPET.body.encode(encoding)
    assert output.count(head) == 1
    assert output.count(body) == 1
    assert output.replace(head, b"", 1).replace(body, b"", 1) == original
    view = browser_view(output.decode(encoding))
    assert view.kinds == ["stub", "tracker"]
    assert view.tracker_runs_in_body


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aae-tracking: error: ")
    return lines[0]


def without_root_powers() -> list[str]:
    """A command prefix under which permission bits apply (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return []
    drop = ["--bounding-set", "-dac_override,-dac_read_search"]
    setpriv = shutil.which("setpriv")
    if setpriv is None or subprocess.run([setpriv, *drop, "true"], check=False).returncode:
        pytest.skip("running as root without a working setpriv: permission bits cannot bite")
    return [setpriv, *drop]


def inject_without_root_powers(prefix: list[str], site: Path) -> subprocess.CompletedProcess[str]:
    """Run ``aae-tracking inject SITE FLAGS`` under ``prefix`` (from :func:`without_root_powers`),
    so permission bits apply; the result with text stdout and stderr."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "aae_tracking_plugins", "inject", str(site), *FLAGS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def small_site(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "index.html").write_text("<html><head></head><body><p>Home</p></body></html>")
    (root / "docs" / "index.html").write_text("<html><head></head><body><p>Docs</p></body></html>")
    return root


def cli_executable() -> str:
    return str(Path(sys.executable).parent / "aae-tracking")
