"""Facebook Pixel dual tracking in real Chromium: the same events reach the Pixel and our collector.

Facebook's script cannot be fetched here, so Playwright's routing serves a recording stand-in for
``https://connect.facebook.net/en_US/fbevents.js``: like the real script, it takes over the
``fbq`` queue the tracker's loader made, and records every call (and sets an ``_fbp`` cookie, as
the real one does). The tests assert the exact calls, and that each ``eventID`` given to the
Pixel is the ``event_id`` of the same event at the collector.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import browser_script, render_snippet
from tests.pixel_helpers import FBEVENTS, FBP, PIXEL_ID, STAND_IN
from tests.sites import one_page_builds

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Desk</title></head>
<body><h1>Desk</h1>
<a class="cta-button" id="buy" href="#buy">Buy the desk</a>
<script>
  window.AAE_TRACKING.trackPurchase({value: 49.5, currency: "EUR", order_id: "ORD-7"});
</script>
</body></html>
"""

Event = dict[str, Any]


def _site(tmp_path: Path, config: TrackingConfig) -> Path:
    (tmp_path / "index.html").write_text(inject(PAGE, render_snippet(config)).html, "utf-8")
    return tmp_path


def _route_pixel(page: Page, requests: list[str]) -> None:
    def fbevents(route: Route) -> None:
        requests.append(route.request.url)
        route.fulfill(status=200, body=STAND_IN, content_type="text/javascript")

    def beacon(route: Route) -> None:  # the noscript image, or anything else of Facebook's
        requests.append(route.request.url)
        route.fulfill(status=200, body=b"GIF89a", content_type="image/gif")

    page.route(FBEVENTS, fbevents)
    page.route("https://www.facebook.com/**", beacon)


def _calls(page: Page, n: int) -> list[list[Any]]:
    page.wait_for_function(f"(window.__fbq || []).length >= {n}")
    calls: list[list[Any]] = page.evaluate("window.__fbq")
    return calls


def test_pixel_gets_the_same_events_with_our_event_ids(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig("lp_pixel", collector.url, facebook_pixel_id=PIXEL_ID)
    url = serve_dir(_site(tmp_path, config)) + "/index.html?utm_source=fb&fbclid=IwAR0abc"
    page = browser_page.page
    fetched: list[str] = []
    _route_pixel(page, fetched)
    page.goto(url)
    view = collector.wait_for_count(1, "PageView")[0]
    purchase = collector.wait_for_count(1, "Purchase")[0]
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    calls = _calls(page, 4)
    page.wait_for_timeout(300)
    calls = page.evaluate("window.__fbq")

    assert calls == [
        ["init", PIXEL_ID],
        ["track", "PageView", {}, {"eventID": view["event_id"]}],
        [
            "track",
            "Purchase",
            {"value": 49.5, "currency": "EUR"},
            {"eventID": purchase["event_id"]},
        ],
        ["track", "AddToCart", {"content_name": "Buy the desk"}, {"eventID": click["event_id"]}],
    ]
    assert purchase["event_id"] == "purchase:lp_pixel:ORD-7"
    assert fetched == [FBEVENTS]  # loaded once

    # What a server-side relay needs to match the visitor, only on a page with the Pixel.
    assert view["event_data"]["fbc"].startswith("fb.1.")
    assert view["event_data"]["fbc"].endswith(".IwAR0abc")
    # One fbc per page load: the same creation time on every event (the stand-in sets no _fbc).
    assert purchase["event_data"]["fbc"] == view["event_data"]["fbc"]
    assert click["event_data"]["fbc"] == view["event_data"]["fbc"]
    assert click["event_data"]["fbp"] == FBP  # set by fbevents.js once it has run
    assert browser_page.errors == []


def test_a_site_without_the_option_ships_and_loads_no_pixel_code(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig("lp_plain", collector.url)
    snippet = render_snippet(config)
    for needle in ("fbq", "facebook", "fbevents"):
        assert needle not in snippet.head + snippet.body
        assert needle not in browser_script("tracker")
        assert needle not in browser_script("tracker.batch")
    page = browser_page.page
    fetched: list[str] = []
    _route_pixel(page, fetched)
    page.goto(serve_dir(_site(tmp_path, config)) + "/index.html?fbclid=IwAR0abc")
    view = collector.wait_for_count(1, "PageView")[0]
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    assert fetched == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    assert "fbc" not in view["event_data"]
    assert "fbp" not in click["event_data"]
    assert browser_page.errors == []


def test_a_page_that_may_not_send_loads_no_pixel(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    """The Pixel follows the same gate as our events: an excluded browser loads nothing."""
    config = TrackingConfig("lp_pixel", collector.url, facebook_pixel_id=PIXEL_ID)
    page = browser_page.page
    page.add_init_script("localStorage.setItem('aae_ignore', 'true')")
    fetched: list[str] = []
    _route_pixel(page, fetched)
    page.goto(serve_dir(_site(tmp_path, config)) + "/index.html")
    page.click("#buy")
    page.wait_for_timeout(1_500)  # past the tracker's idle-time start
    assert fetched == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    assert collector.events == []
    assert browser_page.errors == []


def test_noscript_fallback_reports_a_pageview_without_javascript(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig("lp_pixel", collector.url, facebook_pixel_id=PIXEL_ID)
    base = serve_dir(_site(tmp_path, config))
    context = browser_page.context.browser.new_context(java_script_enabled=False)  # type: ignore[union-attr]
    try:
        page = context.new_page()
        fetched: list[str] = []
        _route_pixel(page, fetched)
        page.goto(base + "/index.html")
        page.wait_for_load_state("load")
        assert fetched == [f"https://www.facebook.com/tr?id={PIXEL_ID}&ev=PageView&noscript=1"]
    finally:
        context.close()
    assert json.dumps(collector.events) == "[]"


# --------------------------------------------------------------------------- real builds

CTA_MD = '<a class="cta-button" id="buy" href="#buy">Buy the desk</a>\n'


@pytest.mark.parametrize(
    "build",
    one_page_builds(
        lambda api: {
            "landing_page_id": "lp_pixel",
            "api_base_url": api,
            "facebook_pixel_id": PIXEL_ID,
        },
        CTA_MD,
    ),
)
def test_real_builds_fire_the_pixel_with_our_event_ids(
    build: Callable[[Path, str], tuple[Path, str]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site, path = build(tmp_path, collector.url)
    page = browser_page.page
    fetched: list[str] = []
    _route_pixel(page, fetched)
    page.goto(serve_dir(site) + path)
    view = collector.wait_for_count(1, "PageView")[0]
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    calls = _calls(page, 3)
    assert calls == [
        ["init", PIXEL_ID],
        ["track", "PageView", {}, {"eventID": view["event_id"]}],
        ["track", "AddToCart", {"content_name": "Buy the desk"}, {"eventID": click["event_id"]}],
    ]
    assert fetched == [FBEVENTS]
    assert browser_page.errors == []
