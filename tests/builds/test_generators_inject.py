"""Generators that run no plugin of ours: build with the real generator, then ``aae-tracking
inject`` the output (docs/generators.md). Zensical builds ``sample_sites/mkdocs`` itself (it reads
``mkdocs.yml`` but runs no third-party plugin); Hugo, Jekyll and Eleventy build the same small
landing site from ``tests/generator_sites``. Each result is loaded in Chromium and its PageView
checked at a real collector."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aae_tracking_plugins.collector import EventCollector
from tests.conftest import BrowserPage
from tests.generators import (
    ELEVENTY,
    GENERATOR_SITES,
    LANDING_PAGE_ID,
    OFFER_CAMPAIGN,
    SITE_CAMPAIGN,
    assert_pageview_arrives,
    assert_tracked_once_each,
    executable,
)
from tests.sites import MKDOCS_SITE, copy_site, html_files, run, tracker_tags


def build_zensical(tmp_path: Path) -> Path:
    source = copy_site(MKDOCS_SITE, tmp_path / "src")
    result = run([executable("zensical"), "build"], cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr
    return source / "site"  # mkdocs.yml sets no site_dir: Zensical's default, like MkDocs'


def build_hugo(tmp_path: Path) -> Path:
    source = shutil.copytree(GENERATOR_SITES / "hugo", tmp_path / "src")
    out = tmp_path / "public"
    result = run(
        [
            executable("hugo"),
            "--quiet",
            "--noBuildLock",
            "--cacheDir",
            tmp_path / "cache",
            "--source",
            source,
            "--destination",
            out,
        ],
        cwd=source,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def build_jekyll(tmp_path: Path) -> Path:
    source = shutil.copytree(GENERATOR_SITES / "jekyll", tmp_path / "src")
    out = tmp_path / "_site"
    result = run(
        [
            executable("jekyll"),
            "build",
            "--quiet",
            "--disable-disk-cache",
            "--source",
            source,
            "--destination",
            out,
        ],
        cwd=source,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def build_eleventy(tmp_path: Path) -> Path:
    out = tmp_path / "_site"
    result = run(
        [
            executable(ELEVENTY),
            "--quiet",
            f"--input={GENERATOR_SITES / 'eleventy' / 'src'}",
            f"--output={out}",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


BUILDS: dict[str, Callable[[Path], Path]] = {
    "zensical": build_zensical,
    "hugo": build_hugo,
    "jekyll": build_jekyll,
    "eleventy": build_eleventy,
}
ZENSICAL = pytest.param(
    "zensical",
    marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="Zensical needs Python 3.11"),
    id="zensical",
)


def aae_tracking(command: str, *args: str | Path) -> list[str]:
    """The command line of ``aae-tracking COMMAND ARGS``, quiet (no progress display)."""
    return [executable("aae-tracking"), command, "--quiet", *map(str, args)]


@pytest.mark.parametrize("generator", [ZENSICAL, "hugo", "jekyll", "eleventy"])
def test_build_then_inject_tracks_every_page_and_its_pageview_arrives(
    generator: str,
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[Path], str],
    browser_page: BrowserPage,
) -> None:
    site = BUILDS[generator](tmp_path)
    built = html_files(site)
    # No plugin ran: nothing of ours in any page (Zensical ignores mkdocs.yml's aae-tracking).
    assert {"index.html", "offer/index.html", "privacy/index.html", "404.html"} <= set(built)
    assert all(tracker_tags(page) == [] for page in built.values())

    ids = ["--landing-page-id", LANDING_PAGE_ID, "--api-base-url", collector.url]
    result = run(
        aae_tracking(
            "inject", site, *ids, "--campaign-id", SITE_CAMPAIGN, "--exclude", "privacy/*"
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no page left untracked
    campaigns = {}
    if generator == "zensical":
        # Front matter (offer.md's campaign, privacy.md's opt-out) is the plugin's, which
        # Zensical does not run: a second inject on the offer's folder gives its campaign.
        offer = run(
            aae_tracking("inject", site / "offer", *ids, "--campaign-id", OFFER_CAMPAIGN),
            cwd=tmp_path,
        )
        assert offer.returncode == 0, offer.stdout + offer.stderr
        campaigns["offer/index.html"] = OFFER_CAMPAIGN

    assert_tracked_once_each(site, campaigns=campaigns)
    check = run(aae_tracking("check", site, "--ignore", "privacy/*"), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr

    base = serve_dir(site)
    campaign = campaigns.get("offer/index.html", SITE_CAMPAIGN)
    assert_pageview_arrives(browser_page, collector, f"{base}/offer/", campaign)
