"""Build the sample sites with the real generators, and read what the plugin put in their pages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

from aae_tracking_plugins.inject import MARKER_ATTRIBUTE

ROOT = Path(__file__).resolve().parent.parent
MKDOCS_SITE = ROOT / "sample_sites" / "mkdocs"
PELICAN_SITE = ROOT / "sample_sites" / "pelican"
# Pelican lives in its own environment: it pins pygments<2.20, mkdocs-material needs >=2.20.
PELICAN_BIN = ROOT / ".venv-pelican" / "bin" / "pelican"
PELICAN_PYTHON = ROOT / ".venv-pelican" / "bin" / "python"


def run(
    command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1", "COLUMNS": "300"}
    full_env.update(env or {})
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_mkdocs(
    source: Path, dest: Path, api_base_url: str, config_file: str = "mkdocs.yml"
) -> subprocess.CompletedProcess[str]:
    return run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", config_file, "-d", dest],
        cwd=source,
        env={"AAE_API_BASE_URL": api_base_url},
    )


def build_pelican(
    source: Path, dest: Path, api_base_url: str, *extra: str, settings: str = "pelicanconf.py"
) -> subprocess.CompletedProcess[str]:
    if not PELICAN_BIN.exists():
        raise RuntimeError(f"{PELICAN_BIN} is missing: run `make test`, which creates it")
    return run(
        [PELICAN_BIN, "content", "-s", settings, "-o", dest, *extra],
        cwd=source,
        env={"AAE_API_BASE_URL": api_base_url},
    )


def copy_site(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("site", "output", "__pycache__"))
    return dest


@dataclass(frozen=True)
class TrackerTag:
    landing_page_id: str | None
    campaign_id: str | None
    endpoint: str | None


def tracker_tags(page: Path) -> list[TrackerTag]:
    """The tracker tags lxml finds in a built page (an independent read, not our scanner)."""
    root = lxml_html.document_fromstring(page.read_bytes())
    return [
        TrackerTag(
            element.get("data-landing-page-id"),
            element.get("data-campaign-id"),
            element.get("data-endpoint"),
        )
        for element in root.xpath(f"//script[@{MARKER_ATTRIBUTE}='tracker']")
    ]


def stub_in_head(page: Path) -> bool:
    root = lxml_html.document_fromstring(page.read_bytes())
    return bool(root.xpath(f"//head/script[@{MARKER_ATTRIBUTE}='stub']"))


def html_files(site: Path) -> dict[str, Path]:
    return {
        path.relative_to(site).as_posix(): path
        for path in sorted(site.rglob("*"))
        if path.suffix in (".html", ".htm")
    }
