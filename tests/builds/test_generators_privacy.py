"""Material's privacy plugin next to ours: it downloads external scripts, images and style sheets
at build time and rewrites the pages to load the copies. Real ``mkdocs build --strict`` runs with
``plugins: [search, privacy, aae-tracking]`` show that it leaves our tags (inline, or the files of
``inline_script: false``) and the Pixel's as they are, fetches nothing for them, and that the
pages still report to a real collector from Chromium (docs/generators.md).

The plugin fetches over the network, which the tests do not have: its cache is filled first with
a stand-in for the two files it does fetch (a control script of the offer page, and the Mermaid
that Material's own bundle names), so under ``--strict`` any other download it tried would fail
the build (a warning).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Route

from aae_tracking_plugins.collector import EventCollector
from tests.conftest import BrowserPage
from tests.generators import (
    OFFER_CAMPAIGN,
    PRIVACY,
    assert_pageview_arrives,
    assert_tracked_once_each,
)
from tests.pixel_helpers import FBEVENTS, PIXEL_ID, STAND_IN
from tests.sites import MKDOCS_SITE, build_mkdocs, copy_site, html_files

#: Our options per case, as mkdocs.yml lines under ``- aae-tracking:``.
CASES = {
    "inline": "",
    "external": "      inline_script: false\n",
    # fbevents.js's URL is inside our script file here: the file a privacy plugin reading
    # scripts for external URLs would rewrite, if it read it.
    "external-pixel": f"      inline_script: false\n      facebook_pixel_id: '{PIXEL_ID}'\n",
}
#: External files the privacy plugin does fetch, with the path of their copy under
#: ``assets/external`` (and in its cache): a script of the offer page, and Mermaid, which
#: Material's bundle loads from a CDN when a page has a diagram.
CONTROL_SCRIPT = "https://cdn.example.com/widget.js"
FETCHED = {"cdn.example.com/widget.js", "unpkg.com/mermaid@11/dist/mermaid.min.js"}
#: A page of a site that also loads fbevents.js itself: docs/generators.md's exclusion keeps it.
OWN_PIXEL_LOADER = f'<script async src="{FBEVENTS}"></script>'
#: Our tags as written in a page (the stub, the tracker, the Pixel's noscript fallback).
OUR_TAGS = re.compile(r'<(script|noscript) data-aae-tracking="[^"]*".*?</\1>', re.DOTALL)


def privacy_site(tmp_path: Path, options: str, *, privacy: bool) -> Path:
    """The sample site with ``options`` for our plugin, Material's privacy plugin (or not) and
    the offer page loading :data:`CONTROL_SCRIPT` and, with a Pixel, fbevents.js itself."""
    source = copy_site(MKDOCS_SITE, tmp_path / ("src" if privacy else "plain"))
    config = (source / "mkdocs.yml").read_text("utf-8")
    ours = "      landing_page_id: lp_spring_desk\n"
    config = config.replace(ours, ours + options)
    if privacy:
        # The documented exclusion of a Pixel loader that the site adds by hand.
        privacy_plugin = "  - privacy:\n      assets_exclude: [connect.facebook.net/*]\n"
        config = config.replace("  - search\n", "  - search\n" + privacy_plugin)
    # strict: a warning (such as a download that failed) fails the build.
    (source / "mkdocs.yml").write_text(config + "strict: true\n", "utf-8")
    extra = f'\n<script src="{CONTROL_SCRIPT}"></script>\n\n'
    extra += '<a href="https://example.com/terms" target="_blank">Terms</a>\n'
    if PIXEL_ID in options:
        extra += f"\n{OWN_PIXEL_LOADER}\n"
    with (source / "docs" / "offer.md").open("a", encoding="utf-8") as offer:
        offer.write(extra)
    cache = source / ".cache" / "plugin" / "privacy" / "assets" / "external"
    for path in FETCHED:
        (cache / path).parent.mkdir(parents=True, exist_ok=True)
        (cache / path).write_text(f"window.stood_in = {path!r};\n", "utf-8")
    return source


def strict_build(source: Path, dest: Path, api: str) -> None:
    result = build_mkdocs(source, dest, api)
    assert result.returncode == 0, result.stderr


def fetched_copies(site: Path) -> set[str]:
    root = site / "assets" / "external"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_the_privacy_plugin_leaves_our_tags_and_files_alone(
    case: str,
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[Path], str],
    browser_page: BrowserPage,
) -> None:
    options = CASES[case]
    source = privacy_site(tmp_path, options, privacy=True)
    site = tmp_path / "site"
    strict_build(source, site, collector.url)

    # The privacy plugin worked on these pages: the control script is loaded from its copy,
    # the external link opens without an opener; it fetched nothing else.
    offer = (site / "offer" / "index.html").read_text("utf-8")
    assert '<script src="../assets/external/cdn.example.com/widget.js">' in offer
    assert CONTROL_SCRIPT not in offer
    assert re.search(r'<a href="https://example.com/terms" target="_blank" rel="noopener">', offer)
    assert fetched_copies(site) == FETCHED

    # Our tags are byte for byte those of the same build without the privacy plugin.
    plain = tmp_path / "plain-site"
    strict_build(privacy_site(tmp_path, options, privacy=False), plain, collector.url)
    assert_tracked_once_each(site, campaigns={"offer/index.html": OFFER_CAMPAIGN})
    for name, page in html_files(site).items():
        ours = [m.group(0) for m in OUR_TAGS.finditer(page.read_text("utf-8"))]
        assert len(ours) == (0 if name == PRIVACY else 3 if PIXEL_ID in options else 2), name
        assert ours == [m.group(0) for m in OUR_TAGS.finditer((plain / name).read_text("utf-8"))]
    scripts = sorted(p.relative_to(site) for p in (site / "aae-tracking").glob("*.js"))
    assert (site / "aae-tracking").is_dir() == (case != "inline")
    for script in scripts:
        assert (site / script).read_bytes() == (plain / script).read_bytes(), script
    if PIXEL_ID in options:
        assert f'src="https://www.facebook.com/tr?id={PIXEL_ID}&amp;ev=PageView' in offer
        assert OWN_PIXEL_LOADER in offer  # excluded: left as the site wrote it
        assert any(FBEVENTS in (site / s).read_text("utf-8") for s in scripts)

    page = browser_page.page
    fbevents_loads: list[str] = []
    if PIXEL_ID in options:

        def stand_in(route: Route) -> None:
            fbevents_loads.append(route.request.url)
            route.fulfill(status=200, body=STAND_IN, content_type="text/javascript")

        page.route(FBEVENTS, stand_in)
    base = serve_dir(site)
    assert_pageview_arrives(browser_page, collector, f"{base}/")
    if PIXEL_ID in options:
        # The Pixel is loaded from Facebook's own URL at run time, and gets the PageView.
        page.wait_for_function("(window.__fbq || []).some(c => c[1] === 'PageView')")
        assert fbevents_loads == [FBEVENTS]
