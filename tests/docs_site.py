"""Build the repository's documentation site (mkdocs.yml, docs/) for the tests: strictly, into a
temporary folder, optionally from a modified copy of docs/ (tests/builds/test_docs_site.py,
tests/browser/test_docs_site_tracking.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.sites import ROOT, run

DEFAULT_ENDPOINT = "http://127.0.0.1:8787/api/v1/landing-pages/events"
REFERENCES = ("reference/options/index.html", "reference/events/index.html")
#: The files of the repository a copy of the docs needs: the hooks, and the files that pages
#: link to outside docs/ (the hook checks that they exist).
LINKED_FROM_COPY = ("scripts", "README.md", "aae_tracking_plugins")


def build_docs(source: Path, site: Path, api: str | None = None) -> tuple[Path, str]:
    """``mkdocs build --strict`` of ``source/mkdocs.yml`` into ``site``; returns (site, stderr).

    Fails the test with MkDocs' output when the build fails."""
    env = {"AAE_DOCS_API_BASE_URL": api} if api else {}
    result = run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            source / "mkdocs.yml",
            "-d",
            site,
        ],
        cwd=source,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site, result.stderr


def copy_docs(dest: Path) -> Path:
    """A copy of mkdocs.yml and docs/ in ``dest``, the rest of the repository linked."""
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", dest / "docs")
    for name in LINKED_FROM_COPY:
        (dest / name).symlink_to(ROOT / name)
    return dest
