"""Build the sample sites with the real generators, and read what the plugin put in their pages."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE

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


def build_one_page_site(
    generator: str,
    tmp_path: Path,
    api: str,
    *,
    settings: Callable[[str], dict[str, Any]],
    markdown: str,
    yaml: dict[str, str] | None = None,
) -> tuple[Path, str]:
    """Build a one-page site for real with ``generator`` (``"mkdocs"``: Material without web
    fonts, whose CDN cannot be reached here, and ``attr_list``; ``"pelican"``: one article),
    the plugin configured with ``settings(api)`` and the page's body ``markdown``. ``yaml`` gives
    the mkdocs.yml lines of some settings as a user writes them (else their JSON form is used).

    Returns the output directory and the page's URL path. Fails the test if the build fails.
    """
    from tests.test_mkdocs_build import write_site as write_mkdocs_site
    from tests.test_pelican_build import SETTINGS_HEAD
    from tests.test_pelican_build import write_site as write_pelican_site

    options = settings(api)
    if generator == "mkdocs":
        # JSON is YAML: each setting as one line of the plugin's options.
        lines = "".join(
            (yaml or {}).get(key, f"      {key}: {json.dumps(value)}\n")
            for key, value in options.items()
        )
        source = write_mkdocs_site(tmp_path, lines, {"index.md": "# Desk\n\n" + markdown})
        with (source / "mkdocs.yml").open("a", encoding="utf-8") as config:
            config.write(
                "theme:\n  name: material\n  font: false\nmarkdown_extensions:\n  - attr_list\n"
            )
        out, path = tmp_path / "site", "/index.html"
        result = build_mkdocs(source, out, api)
    else:
        page = "Title: Desk\nDate: 2026-01-01\nSlug: desk\n\n" + markdown
        conf = SETTINGS_HEAD + f"AAE_TRACKING = {options!r}\n"
        source = write_pelican_site(tmp_path, conf, {"desk.md": page})
        out, path = tmp_path / "out", "/desk.html"
        result = build_pelican(source, out, api)
    assert result.returncode == 0, result.stderr + result.stdout
    return out, path


def one_page_builds(
    settings: Callable[[str], dict[str, Any]], markdown: str, yaml: dict[str, str] | None = None
) -> list[Any]:
    """``pytest.param`` s of ``build(tmp_path, api) -> (site, path)`` for a MkDocs and a Pelican
    one-page site (:func:`build_one_page_site`), with ids ``mkdocs`` and ``pelican``."""
    import pytest

    return [
        pytest.param(
            functools.partial(
                build_one_page_site, generator, settings=settings, markdown=markdown, yaml=yaml
            ),
            id=generator,
        )
        for generator in ("mkdocs", "pelican")
    ]


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
