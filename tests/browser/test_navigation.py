"""Client-side navigation, loaders, back/forward cache and prerendering in real Chromium.

What reaches the real collector when a page moves without a full load (Material for MkDocs'
``navigation.instant``, a content-swapping router, a Turbo-like body swap), when the tracker is
run by a script loader, when a page is restored from the back/forward cache or activated from a
prerender, and when it must stay silent (``file:`` pages, a loopback preview with a remote
collector, automation, the visitor's ``aae_ignore`` flag).

Pages are built with the real engine: a real ``mkdocs build`` (Material theme) for the instant
navigation scenarios, and :func:`render_snippet` + :func:`inject` for hand-written pages (the
routers are in ``tests/navigation_pages/``).  Silence is always checked against a barrier: an
event sent afterwards (a later PageView, or a control request the page itself sends to the same
collector) arrives, so "nothing arrived" means nothing was sent.

Browser facts these tests rely on:

* Playwright launches Chromium with ``--disable-back-forward-cache``; the bfcache test uses a
  browser launched without it (``ignore_default_args``), and a server without
  ``Cache-Control: no-store`` (which keeps pages out of the cache).
* Any DevTools connection blocks prerendering (``PrerenderingDisabledByDevTools``), so the
  prerendering test starts ``chromium --headless=new`` as a plain process and watches the
  collector and the server's request log (``Sec-Purpose: prefetch;prerender``).
* ``navigator.webdriver`` is true under Playwright unless Chromium runs with
  ``--disable-blink-features=AutomationControlled`` (part of ``CHROMIUM_ARGS``).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EVENTS_PATH, EventCollector, validate_event
from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE, inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_page_marker, render_snippet
from tests.sites import TESTS, run, wait_until_instant_ready
from tests.static_server import CHROMIUM_ARGS, StaticServer, StaticSiteHandler

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]

PAGES = TESTS / "navigation_pages"
WAIT = 10.0  # seconds to wait for an event that must arrive
SWAP_WAIT = 5.0  # a PageView after a client-side navigation: well within this
BOOT_MS = 1500  # longer than the tracker waits (idle, at most 1 s) before its first events
QUIET_MS = 400  # "nothing else arrives" after a barrier event arrived
LANDING_PAGE_ID = "lp_nav"
SITE_CAMPAIGN = "camp_site"
OFFER_CAMPAIGN = "camp_offer"
ROUTER_CAMPAIGN = "camp_router"
TURBO_CAMPAIGN = "camp_turbo"
REMOTE_API = "https://collector.example"


# --------------------------------------------------------------------------- servers


class _LoggingHandler(StaticSiteHandler):
    """Serves like static hosting without ``Cache-Control: no-store`` and logs each GET."""

    server: _LoggingServer

    def end_headers(self) -> None:
        # no-store would keep every page out of the back/forward cache.
        SimpleHTTPRequestHandler.end_headers(self)

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.server.log.append((self.path, self.headers.get("Sec-Purpose") or ""))
        if self.path == "/probe/go":  # the test lets a page go on (see the prerendering test)
            self.send_response(204 if self.server.go.is_set() else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


class _LoggingServer(StaticServer):
    """A :class:`StaticServer` whose ``log`` lists ``(path, Sec-Purpose)`` of every GET.

    ``GET /probe/go`` answers 404 until ``go`` is set, then 204.
    """

    log: list[tuple[str, str]]
    go: threading.Event

    def requests_for(self, path: str) -> list[str]:
        """The ``Sec-Purpose`` header of every GET of ``path`` (query included)."""
        return [purpose for got, purpose in list(self.log) if got == path]


def _serve(root: Path) -> _LoggingServer:
    server = _LoggingServer(
        ("127.0.0.1", 0), functools.partial(_LoggingHandler, directory=str(root))
    )
    server.log = []
    server.go = threading.Event()
    threading.Thread(target=server.serve_forever, name=f"nav-{root.name}", daemon=True).start()
    return server


# --------------------------------------------------------------------------- the sites


def _config(api_base_url: str, **settings: Any) -> TrackingConfig:
    return TrackingConfig(
        landing_page_id=LANDING_PAGE_ID,
        campaign_id=settings.pop("campaign_id", SITE_CAMPAIGN),
        api_base_url=api_base_url,
        **settings,
    )


def _document(body: str, head: str = "", title: str = "Page") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{title}</title>{head}</head>\n<body>\n{body}\n</body></html>\n"
    )


def _tracked(body: str, config: TrackingConfig, head: str = "", title: str = "Page") -> str:
    """A hand-written page with our tags, placed by the real engine."""
    result = inject(_document(body, head, title), render_snippet(config))
    assert result.injected, result.skipped_reason
    return result.html


def _inert_tracker(html: str) -> str:
    """The page with its tracker tag switched off the way consent managers do (type=text/plain)."""
    tag = f'<script {MARKER_ATTRIBUTE}="tracker"'
    assert html.count(tag) == 1
    return html.replace(tag, f'<script type="text/plain" {MARKER_ATTRIBUTE}="tracker"')


CTA = '<a class="cta-button" id="{id}" href="#{id}">Buy now</a>'
BUTTON_CTA = '<button type="button" class="cta-button" id="{id}">Buy now</button>'

# Loaders / tag managers that run our tracker tag's code themselves (document.currentScript is
# null, or a script without our data-* attributes).
LOADERS = {
    # The tag itself never runs; a timer runs its text: currentScript is null.
    "function-later": (
        True,
        "<script>setTimeout(function () { new Function(document.querySelector("
        "'script[data-aae-tracking=tracker]').text)(); }, 50);</script>",
    ),
    # Run synchronously from the loader's own script: currentScript is the loader's tag.
    "function-now": (
        True,
        "<script>new Function(document.querySelector("
        "'script[data-aae-tracking=tracker]').text)();</script>",
    ),
    # Re-inserted as a new script element without our data-* attributes.
    "element": (
        True,
        "<script>var s = document.createElement('script'); s.text = document.querySelector("
        "'script[data-aae-tracking=tracker]').text; document.head.appendChild(s);</script>",
    ),
    # The tag runs, and a loader re-inserts a copy later: still one tracker per document.
    "tag-and-copy": (
        False,
        "<script>addEventListener('load', function () { var s = document.createElement("
        "'script'); s.text = document.querySelector('script[data-aae-tracking=tracker]').text;"
        " document.body.appendChild(s); });</script>",
    ),
}

CLEANERS = {
    "inline": "<script>history.replaceState(null, '', location.pathname);</script>",
    "deferred": '<script defer src="clean.js"></script>',
}


def _write_hand_site(root: Path, collector_url: str) -> None:
    """Every hand-written page of these tests, built against ``collector_url``."""
    # ?order=... names the router tests' landings: a query key the sent URLs keep.
    site = _config(collector_url, query_params=["order"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "fragments").mkdir()
    for name in ("router.js", "turbo.js"):
        shutil.copy(PAGES / name, root / name)

    def write(name: str, html: str) -> None:
        (root / name).write_text(html, encoding="utf-8")

    write(
        "simple.html",
        _tracked(f"<h1>Simple</h1>{CTA.format(id='simple-cta')}", site, title="Simple"),
    )
    write(
        "automation.html",
        _tracked("<h1>Automation</h1>", _config(collector_url, track_automation=True)),
    )
    write("remote.html", _tracked("<h1>Remote</h1>", _config(REMOTE_API)))

    # 2. A content-swapping router; fragments carry the engine's per-page markers.
    nav = " ".join(
        f'<a id="go-{name}" href="/spa/{name}" data-route="{name}">{name}</a>'
        for name in ("campaign", "off", "again")
    )
    write(
        "router.html",
        _tracked(
            f'<nav>{nav}</nav><main id="content"><h1>Router</h1></main>'
            '<script src="/router.js"></script>',
            site,
        ),
    )
    fragments = {
        "campaign": render_page_marker(_config(collector_url, campaign_id=ROUTER_CAMPAIGN)),
        "off": render_page_marker(None),
        "again": render_page_marker(site),
    }
    for name, marker in fragments.items():
        (root / "fragments" / f"{name}.html").write_text(
            f"<h1>{name}</h1>{BUTTON_CTA.format(id=name + '-cta')}{marker}", encoding="utf-8"
        )

    # 2. A whole-body-swap router (Turbo-like), to an untracked page and on to a tracked one.
    turbo_head = '<script src="/turbo.js"></script>'
    write(
        "turbo.html",
        _tracked(
            '<h1>Turbo</h1><a id="to-plain" data-turbo href="plain.html">plain</a>',
            site,
            turbo_head,
        ),
    )
    write(
        "plain.html",
        _document(
            f"<h1>Plain</h1>{BUTTON_CTA.format(id='plain-cta')}"
            '<a id="to-next" data-turbo href="turbo-next.html">next</a>',
            turbo_head,
        ),
    )
    write(
        "turbo-next.html",
        _tracked(
            f"<h1>Next</h1>{BUTTON_CTA.format(id='next-cta')}",
            _config(collector_url, campaign_id=TURBO_CAMPAIGN),
            turbo_head,
        ),
    )

    # 3. "Clean URL" snippets that strip utm_* from the address bar.
    (root / "clean.js").write_text("history.replaceState(null, '', location.pathname);\n")
    for name, cleaner in CLEANERS.items():
        write(f"clean-{name}.html", _tracked("<h1>Clean</h1>", site, cleaner))

    # 5. Script loaders.
    for name, (inert, loader) in LOADERS.items():
        html = _tracked(f"<h1>Loader</h1>{BUTTON_CTA.format(id='loader-cta')}", site)
        if inert:
            html = _inert_tracker(html)
        write(f"loader-{name}.html", html.replace("</body>", loader + "</body>"))

    # 6. Back/forward cache.
    restored = (
        "<script>addEventListener('pageshow', function (e) { if (e.persisted) "
        "window.__restored = (window.__restored || 0) + 1; });</script>"
    )
    # Without Engagement, as pr-first.html below: a page open over a second when left (a
    # loaded machine) sends one, which the next page resends from the stored queue.
    quiet = _config(collector_url, engagement=False)
    write("bf-a.html", _tracked(f'<h1>A</h1><a id="to-b" href="bf-b.html">B</a>{restored}', quiet))
    write("bf-b.html", _tracked(f"<h1>B</h1>{restored}", quiet))

    # 7. Prerendering: the first page prerenders pr-next.html and opens it once the test lets
    # it (/probe/go); pr-next.html reports its activation.
    write(
        "pr-first.html",
        _tracked(
            "<h1>First</h1>"
            '<script type="speculationrules">'
            '{"prerender":[{"source":"list","urls":["pr-next.html"]}]}</script>'
            "<script>(function poll() { fetch('/probe/go').then(function (r) {"
            " if (r.ok) location.href = 'pr-next.html'; else setTimeout(poll, 100); }); })();"
            "</script>",
            # Without Engagement: sent as the page is left, it would also be resent from the
            # stored queue by the next page (counted once, but a duplicate _assert_clean sees).
            quiet,
        ),
    )
    write(
        "pr-next.html",
        _tracked(
            "<h1>Next</h1><script>if (document.prerendering) {"
            " document.addEventListener('prerenderingchange', function () {"
            " var start = performance.getEntriesByType('navigation')[0].activationStart;"
            " fetch('/probe/activated?start=' + Math.round(start)); }); }"
            " else { fetch('/probe/loaded-fresh'); }</script>",
            site,
        ),
    )


@dataclass
class HandSite:
    root: Path
    server: _LoggingServer

    def url(self, path: str) -> str:
        return self.server.url + "/" + path.lstrip("/")


@dataclass
class MaterialSite:
    root: Path
    base_url: str

    def url(self, path: str) -> str:
        return self.base_url + path


MKDOCS_YML = """\
site_name: Navigation test
site_url: {site_url}/
use_directory_urls: true
theme:
  name: material
  font: false
  features: [navigation.instant]
markdown_extensions: [attr_list, md_in_html]
plugins:
  - aae-tracking:
      landing_page_id: {landing_page_id}
      campaign_id: {campaign_id}
      api_base_url: {api_base_url}
nav: [index.md, offer.md, privacy.md, thanks.md, order.md]
"""

# CTAs lead to the thank-you page (an instant navigation too); other links carry ids.
MATERIAL_PAGES = {
    "index.md": """\
        # Home

        <a class="cta-button" id="home-cta" href="thanks/">Get the desk</a>

        [Offer](offer.md){#to-offer} [Privacy](privacy.md){#to-privacy}
        [Thanks](thanks.md){#to-thanks} [Order](order.md){#to-order}
        """,
    "offer.md": f"""\
        ---
        aae_tracking:
          campaign_id: {OFFER_CAMPAIGN}
        ---
        # Offer

        <a class="cta-button" id="offer-cta" href="../thanks/">Buy the offer</a>

        [Home](index.md){{#offer-home}} [Privacy](privacy.md){{#offer-privacy}}
        """,
    "privacy.md": """\
        ---
        aae_tracking: false
        ---
        # Privacy

        <a class="cta-button" id="privacy-cta" href="../thanks/">Buy from privacy</a>

        [Home](index.md){#privacy-home} [Offer](offer.md){#privacy-offer}
        """,
    # An order confirmation whose own inline script and declarative purchase run as Material
    # swaps it in, before the tracker has seen the new content.
    "order.md": """\
        # Order confirmed

        <div data-aae-purchase data-aae-value="12" data-aae-currency="EUR"
             data-aae-order-id="NAV-1" hidden></div>
        <script>AAE_TRACKING.track("order_seen", {step: 3})</script>

        [Home](index.md){#order-home}
        """,
    "thanks.md": """\
        # Thanks

        [Home](index.md){#thanks-home} [Privacy](privacy.md){#thanks-privacy}
        """,
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def module_collector() -> Iterator[EventCollector]:
    with EventCollector() as running:
        yield running


@pytest.fixture
def collector(module_collector: EventCollector) -> EventCollector:
    """The module's collector, emptied for this test."""
    module_collector.fail_with = None
    module_collector.clear()
    return module_collector


@pytest.fixture(scope="module")
def hand_site(
    tmp_path_factory: pytest.TempPathFactory, module_collector: EventCollector
) -> Iterator[HandSite]:
    root = tmp_path_factory.mktemp("navigation") / "site"
    _write_hand_site(root, module_collector.url)
    server = _serve(root)
    yield HandSite(root, server)
    server.stop()


@pytest.fixture(scope="module")
def material(
    tmp_path_factory: pytest.TempPathFactory, module_collector: EventCollector
) -> Iterator[MaterialSite]:
    """The small Material site, really built by ``mkdocs build`` and served on 127.0.0.1."""
    base = tmp_path_factory.mktemp("material")
    source, dest = base / "src", base / "site"
    (source / "docs").mkdir(parents=True)
    dest.mkdir()
    # Served first: Material's instant navigation only follows URLs of the sitemap, built from
    # site_url, so site_url must be the served origin.
    server = _serve(dest)
    (source / "mkdocs.yml").write_text(
        MKDOCS_YML.format(
            site_url=server.url,
            landing_page_id=LANDING_PAGE_ID,
            campaign_id=SITE_CAMPAIGN,
            api_base_url=module_collector.url,
        )
    )
    for name, text in MATERIAL_PAGES.items():
        (source / "docs" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    result = run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", dest], cwd=source)
    assert result.returncode == 0, f"mkdocs build failed:\n{result.stderr}"
    yield MaterialSite(dest, server.url)
    server.stop()


@pytest.fixture(scope="module")
def chromium_variant(browser: Browser) -> Iterator[Callable[..., Browser]]:
    """``launch(args=..., ignore_default_args=...)``: another Chromium, one per set of options.

    Launched by the session's Playwright, reused within the module, closed with it.
    """
    launched: dict[str, Browser] = {}
    executable = shutil.which("chromium") or "/usr/bin/chromium"

    def launch(**options: Any) -> Browser:
        options.setdefault("args", CHROMIUM_ARGS)
        key = json.dumps(options, sort_keys=True)
        if key not in launched:
            launched[key] = browser.browser_type.launch(
                executable_path=executable, headless=True, **options
            )
        return launched[key]

    yield launch
    for each in launched.values():
        each.close()


# --------------------------------------------------------------------------- helpers


def _matches(event: Event, event_type: str, data: dict[str, Any]) -> bool:
    return event.get("event_type") == event_type and all(
        event.get("event_data", {}).get(key) == value for key, value in data.items()
    )


def _wait_event(
    collector: EventCollector, event_type: str, timeout: float = WAIT, **data: Any
) -> Event:
    """Wait for an event of ``event_type`` whose ``event_data`` has ``data``; return it."""

    def arrived(events: list[Event]) -> bool:
        return any(_matches(e, event_type, data) for e in events)

    arrived.__name__ = f"{event_type}({data})"
    events = collector.wait_for(arrived, timeout)
    return next(e for e in events if _matches(e, event_type, data))


def _of_type(collector: EventCollector, event_type: str) -> list[Event]:
    return [e for e in collector.events if e["event_type"] == event_type]


def _urls(collector: EventCollector) -> list[str]:
    """The ``url`` of every PageView, in order of arrival."""
    return [e["event_data"]["url"] for e in _of_type(collector, "PageView")]


def _assert_clean(collector: EventCollector) -> None:
    """Every request was accepted, every event is valid, none was sent twice."""
    assert collector.rejected == []
    for event in collector.events:
        assert validate_event(event) == [], event
    assert collector.duplicates == 0


def _control_event(url: str) -> Event:
    """A valid event that no tracker would send: proves a silent page could reach the collector."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "event_type": "PageView",
        "event_id": str(uuid.uuid4()),
        "landing_page_id": "lp_control",
        "campaign_id": None,
        "session_id": "sess_1_control",
        "event_data": {"url": url, "referrer": "", "timestamp": now},
        "user_agent": "control",
        "screen_resolution": "1x1",
        "timestamp": now,
    }


def _send_control(page: Page, endpoint: str, collector: EventCollector) -> None:
    """The page itself posts a control event to ``endpoint``; wait until it is stored."""
    control = _control_event("https://control.example/")
    # The tracker's own kind of request (CORS-simple POST, keepalive); its answer is not needed.
    page.evaluate(
        "([url, body]) => fetch(url, {method: 'POST', body, keepalive: true, credentials: 'omit'})"
        ".then(() => 'sent', () => 'answer not readable')",
        [endpoint, json.dumps(control)],
    )
    _wait_event(collector, "PageView", url="https://control.example/")


def _only_control(collector: EventCollector) -> None:
    assert [e["landing_page_id"] for e in collector.events] == ["lp_control"]


def _idle(page: Page) -> None:
    """Wait until the tracker has had its idle time after load, when it sends its first events.

    Idle callbacks run in the order they were asked for, so one asked for after the page's
    load event runs after the tracker's (``requestIdleCallback``, 1 s timeout); and at least
    1.2 s after the load event, whatever way the tracker defers its work.
    """
    page.wait_for_load_state("load")
    page.evaluate(
        """() => new Promise((done) => requestIdleCallback(() => {
          const loaded = performance.getEntriesByType("navigation")[0].loadEventEnd;
          setTimeout(done, Math.max(100, loaded + 1200 - performance.now()));
        }, {timeout: 2000}))"""
    )


def _same_document(page: Page) -> None:
    """Mark the document: a full load would lose the mark (see :func:`_assert_same_document`)."""
    page.evaluate("window.__sameDocument = 1")


def _material_ready(page: Page) -> None:
    """Wait until Material's instant navigation takes clicks, then mark the document."""
    wait_until_instant_ready(page)
    _same_document(page)


def _assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__sameDocument") == 1, "the navigation was a full page load"


def _instant(page: Page, click: str, arrived: str) -> None:
    """Click ``click`` and wait until the content with ``arrived`` is shown."""
    page.click(click)
    page.wait_for_selector(arrived)


# --------------------------------------------------------------------------- 1. Material


def test_material_opted_out_page_reached_instantly_sends_nothing(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    home, privacy, thanks = (material.url(p) for p in ("/", "/privacy/", "/thanks/"))
    page.goto(home)
    _wait_event(collector, "PageView", url=home)
    _material_ready(page)

    _instant(page, "#to-privacy", "#privacy-cta")
    page.wait_for_timeout(QUIET_MS)
    # A CTA on the opted-out page; it leads (instantly) to the thank-you page: the barrier.
    _instant(page, "#privacy-cta", "#thanks-home")
    _wait_event(collector, "PageView", url=thanks)
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    assert _urls(collector) == [home, thanks]
    assert _of_type(collector, "AddToCart") == []
    assert not [e for e in collector.events if e["event_data"].get("url") == privacy]
    _assert_clean(collector)
    assert browser_page.errors == []


def test_material_page_campaign_on_pageview_and_clicks(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    home, offer, thanks = (material.url(p) for p in ("/", "/offer/", "/thanks/"))
    page.goto(home)
    _wait_event(collector, "PageView", url=home)
    _material_ready(page)

    _instant(page, "#to-offer", "#offer-cta")
    view = _wait_event(collector, "PageView", url=offer)
    assert view["campaign_id"] == OFFER_CAMPAIGN
    _instant(page, "#offer-cta", "#thanks-home")
    click = _wait_event(collector, "AddToCart", button_id="offer-cta")
    assert click["campaign_id"] == OFFER_CAMPAIGN
    assert click["event_data"]["button_text"] == "Buy the offer"
    _wait_event(collector, "PageView", url=thanks)

    # Back to the home page: the site's campaign again, for the PageView and a CTA click.
    _instant(page, "#thanks-home", "#home-cta")
    _wait_event(collector, "PageView", url=home, referrer=thanks)
    page.click("#home-cta")
    home_click = _wait_event(collector, "AddToCart", button_id="home-cta")
    assert home_click["campaign_id"] == SITE_CAMPAIGN
    _wait_event(collector, "PageView", url=thanks, referrer=home)
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    campaigns = [
        (e["event_data"]["url"], e["campaign_id"]) for e in _of_type(collector, "PageView")
    ]
    assert campaigns == [
        (home, SITE_CAMPAIGN),
        (offer, OFFER_CAMPAIGN),
        (thanks, SITE_CAMPAIGN),
        (home, SITE_CAMPAIGN),
        (thanks, SITE_CAMPAIGN),
    ]
    assert len(_of_type(collector, "AddToCart")) == 2
    assert {e["landing_page_id"] for e in collector.events} == {LANDING_PAGE_ID}
    _assert_clean(collector)
    assert browser_page.errors == []


def test_material_referrer_after_a_swap_is_the_previous_page(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    home, thanks = material.url("/"), material.url("/thanks/")
    page.goto(home)
    landing = _wait_event(collector, "PageView", url=home)
    assert landing["event_data"]["referrer"] == ""
    _material_ready(page)

    _instant(page, "#to-thanks", "#thanks-home")
    assert _wait_event(collector, "PageView", url=thanks)["event_data"]["referrer"] == home
    _instant(page, "#thanks-home", "#home-cta")
    _wait_event(collector, "PageView", url=home, referrer=thanks)
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    referrers = [e["event_data"]["referrer"] for e in _of_type(collector, "PageView")]
    assert referrers == ["", home, thanks]
    _assert_clean(collector)
    assert browser_page.errors == []


def test_material_visit_starting_on_opted_out_page_is_tracked_after_it(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    privacy, offer, thanks = (material.url(p) for p in ("/privacy/", "/offer/", "/thanks/"))
    page.goto(privacy)
    # The tracker is there (instant navigation may take the visitor on), the page is silent.
    assert page.locator(f"script[{MARKER_ATTRIBUTE}=tracker]").count() == 1
    _material_ready(page)
    _idle(page)
    page.click("#privacy-cta")  # a CTA click on the opted-out page: nothing either
    page.wait_for_selector("#thanks-home")

    view = _wait_event(collector, "PageView", url=thanks)
    assert view["campaign_id"] == SITE_CAMPAIGN
    assert view["event_data"]["referrer"] == privacy  # where the visitor came from
    _instant(page, "#thanks-home", "#to-offer")
    _instant(page, "#to-offer", "#offer-cta")
    offer_view = _wait_event(collector, "PageView", url=offer)
    assert offer_view["campaign_id"] == OFFER_CAMPAIGN
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    assert _urls(collector) == [thanks, material.url("/"), offer]
    assert _of_type(collector, "AddToCart") == []
    _assert_clean(collector)
    assert browser_page.errors == []


def test_material_one_pageview_per_navigation_back_and_forth(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    home, offer, thanks = (material.url(p) for p in ("/", "/offer/", "/thanks/"))
    page.goto(home)
    _wait_event(collector, "PageView", url=home)
    _material_ready(page)
    expected = [home]

    def step(move: Callable[[], Any], arrived: str, url: str) -> None:
        move()
        page.wait_for_selector(arrived)
        expected.append(url)
        collector.wait_for_count(len(expected), "PageView")

    step(lambda: page.click("#to-offer"), "#offer-cta", offer)
    step(lambda: page.click("#offer-home"), "#to-thanks", home)
    step(lambda: page.click("#to-thanks"), "#thanks-home", thanks)
    step(page.go_back, "#to-thanks", home)  # Material: popstate, no load
    step(page.go_back, "#offer-cta", offer)
    step(page.go_forward, "#to-thanks", home)
    step(lambda: page.click("#to-offer"), "#offer-cta", offer)
    # Clicks are counted once however many swaps happened.
    page.click("#offer-cta")
    page.wait_for_selector("#thanks-home")
    expected.append(thanks)
    _wait_event(collector, "PageView", url=thanks, referrer=offer)
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    assert _urls(collector) == expected
    assert len(_of_type(collector, "AddToCart")) == 1
    assert page.locator(f"script[{MARKER_ATTRIBUTE}=tracker]").count() == 1
    _assert_clean(collector)
    assert browser_page.errors == []


def test_material_new_page_events_follow_its_pageview(
    material: MaterialSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    """The swapped-in page's inline track() and declarative purchase go out after the new page's
    PageView (the wire order is PageView first), not as the content arrives. The order events
    were made in is the order debug mode logs them."""
    page = browser_page.page
    home, order = material.url("/"), material.url("/order/")
    made: list[str] = []
    page.on(
        "console",
        lambda m: made.append(m.text.split()[1]) if m.text.startswith("aae-tracking: ") else None,
    )
    page.goto(home + "?aae_debug=1")
    _wait_event(collector, "PageView")
    _material_ready(page)
    _instant(page, "#to-order", "#order-home")
    _wait_event(collector, "Purchase", order_id="NAV-1")
    _wait_event(collector, "order_seen")
    view = _wait_event(collector, "PageView", url=order)
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    events = [name for name in made if name in ("PageView", "Purchase", "order_seen")]
    assert events[0] == "PageView"  # the landing
    assert events[1:] == ["PageView", "order_seen", "Purchase"], made
    purchase = _of_type(collector, "Purchase")[0]
    assert view["timestamp"] <= purchase["timestamp"]
    assert purchase["event_data"]["value"] == 12
    _assert_clean(collector)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- 2. other routers

ROUTER_ORDERS = [
    pytest.param("push-first", id="push-then-swap"),
    pytest.param("swap-first", id="swap-then-push"),
]


@pytest.mark.parametrize("order", ROUTER_ORDERS)
def test_content_swap_router_reads_settings_from_the_swapped_markup(
    order: str, hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    landing = hand_site.url(f"/router.html?order={order}")
    campaign, off, again = (hand_site.url(f"/spa/{n}") for n in ("campaign", "off", "again"))
    page.goto(landing)
    _wait_event(collector, "PageView", url=landing)
    _same_document(page)

    def route(name: str) -> None:
        page.click(f"#go-{name}")
        page.wait_for_selector(f"html[data-routed={name}]")

    route("campaign")
    view = _wait_event(collector, "PageView", SWAP_WAIT, url=campaign)
    assert view["campaign_id"] == ROUTER_CAMPAIGN
    assert view["event_data"]["referrer"] == landing
    page.click("#campaign-cta")
    assert _wait_event(collector, "AddToCart", button_id="campaign-cta")["campaign_id"] == (
        ROUTER_CAMPAIGN
    )

    route("off")
    page.click("#off-cta")
    route("again")  # the barrier
    view = _wait_event(collector, "PageView", SWAP_WAIT, url=again)
    assert view["campaign_id"] == SITE_CAMPAIGN
    assert view["event_data"]["referrer"] == off
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    assert _urls(collector) == [landing, campaign, again]
    assert [e["event_data"]["button_id"] for e in _of_type(collector, "AddToCart")] == [
        "campaign-cta"
    ]
    _assert_clean(collector)
    assert browser_page.errors == []


def test_a_navigation_before_the_tracker_started_is_not_missed(
    hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    """The visitor moves on at once, before the tracker's idle-time start: the landing's
    PageView keeps the landing's settings, and the next page gets its own PageView."""
    page = browser_page.page
    landing = hand_site.url("/router.html?order=push-first")
    campaign = hand_site.url("/spa/campaign")
    # The page's own script moves on as soon as the document is parsed: long before the idle
    # time after the load event, when the tracker starts.
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded',"
        " () => document.getElementById('go-campaign').click())"
    )
    page.goto(landing)
    page.wait_for_selector("html[data-routed=campaign]")
    first = _wait_event(collector, "PageView", url=landing)
    view = _wait_event(collector, "PageView", SWAP_WAIT, url=campaign)
    page.wait_for_timeout(QUIET_MS)

    assert first["campaign_id"] == SITE_CAMPAIGN
    assert view["campaign_id"] == ROUTER_CAMPAIGN
    assert view["event_data"]["referrer"] == landing
    assert _urls(collector) == [landing, campaign]
    _assert_clean(collector)
    assert browser_page.errors == []


def test_body_swap_to_an_untracked_page_sends_nothing(
    hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    start, plain, following = (
        hand_site.url(p) for p in ("/turbo.html", "/plain.html", "/turbo-next.html")
    )
    page.goto(start)
    _wait_event(collector, "PageView", url=start)
    _same_document(page)

    page.click("#to-plain")
    page.wait_for_selector("html[data-visited='plain.html'] #plain-cta")
    assert page.locator(f"script[{MARKER_ATTRIBUTE}]").count() == 1  # only the head stub
    _idle(page)
    page.click("#plain-cta")
    # On to a tracked page: its tracker tag is re-activated by the router, the tracker already
    # running in this document sends its PageView, with that page's settings, once.
    page.click("#to-next")
    page.wait_for_selector("#next-cta")
    view = _wait_event(collector, "PageView", SWAP_WAIT, url=following)
    assert view["campaign_id"] == TURBO_CAMPAIGN
    page.click("#next-cta")
    click = _wait_event(collector, "AddToCart", button_id="next-cta")
    assert click["campaign_id"] == TURBO_CAMPAIGN
    page.wait_for_timeout(QUIET_MS)

    _assert_same_document(page)
    assert _urls(collector) == [start, following]
    assert len(_of_type(collector, "AddToCart")) == 1
    assert not [e for e in collector.events if e["event_data"].get("url") == plain]
    _assert_clean(collector)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- 3. landing URL


@pytest.mark.parametrize("cleaner", list(CLEANERS))
def test_landing_url_keeps_campaign_parameters_a_page_script_strips(
    cleaner: str, hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    html = (hand_site.root / f"clean-{cleaner}.html").read_text()
    assert html.index(f'{MARKER_ATTRIBUTE}="stub"') < html.index(
        "replaceState" if cleaner == "inline" else "clean.js"
    )
    landing = hand_site.url(f"/clean-{cleaner}.html?utm_source=x&utm_campaign=y")
    page.goto(landing)
    page.wait_for_load_state("load")
    assert page.url == hand_site.url(f"/clean-{cleaner}.html")  # the snippet did its job

    view = _wait_event(collector, "PageView", url=landing)
    assert view["campaign_id"] == SITE_CAMPAIGN
    page.wait_for_timeout(QUIET_MS)
    assert _urls(collector) == [landing]
    _assert_clean(collector)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- 4. silent pages


def test_page_opened_from_file_sends_nothing(
    hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    page.goto((hand_site.root / "simple.html").as_uri())
    _idle(page)
    page.click("#simple-cta")
    _send_control(page, collector.events_url, collector)  # the collector is reachable from here
    page.wait_for_timeout(QUIET_MS)
    _only_control(collector)

    # The same page over http sends.
    page.goto(hand_site.url("/simple.html"))
    _wait_event(collector, "PageView", url=hand_site.url("/simple.html"))
    assert browser_page.errors == []


def test_loopback_page_sends_only_to_a_loopback_collector(
    hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context

    # https://collector.example answered by the real collector: anything sent there arrives.
    def forward(route: Route) -> None:
        request = route.request
        answer = route.fetch(url=collector.events_url, method=request.method)
        route.fulfill(response=answer)

    context.route(f"{REMOTE_API}/**", forward)
    page.goto(hand_site.url("/remote.html"))
    _idle(page)
    _send_control(page, REMOTE_API + EVENTS_PATH, collector)
    page.wait_for_timeout(QUIET_MS)
    _only_control(collector)

    simple = hand_site.url("/simple.html")  # same page, loopback collector: sends
    page.goto(simple)
    _wait_event(collector, "PageView", url=simple)
    assert browser_page.errors == []


@pytest.mark.parametrize("track_automation", [False, True])
def test_automated_browser_is_tracked_only_when_the_site_asks(
    track_automation: bool,
    hand_site: HandSite,
    collector: EventCollector,
    chromium_variant: Callable[..., Browser],
) -> None:
    automated = chromium_variant(
        args=[a for a in CHROMIUM_ARGS if not a.startswith("--disable-blink-features")]
    )
    context = automated.new_context()
    try:
        page = context.new_page()
        url = hand_site.url("/automation.html" if track_automation else "/simple.html")
        page.goto(url)
        assert page.evaluate("navigator.webdriver") is True
        if track_automation:
            _wait_event(collector, "PageView", url=url)
        else:
            _idle(page)
            _send_control(page, collector.events_url, collector)
            page.wait_for_timeout(QUIET_MS)
            _only_control(collector)
    finally:
        context.close()


def test_visitor_opt_out_flag_sends_nothing(
    hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    context.add_init_script("localStorage.setItem('aae_ignore', 'true')")
    page.goto(hand_site.url("/simple.html"))
    _idle(page)
    page.click("#simple-cta")
    _send_control(page, collector.events_url, collector)
    page.wait_for_timeout(QUIET_MS)
    _only_control(collector)
    assert page.evaluate("localStorage.getItem('aae_ignore')") == "true"
    assert browser_page.errors == []


# --------------------------------------------------------------------------- 5. loaders


@pytest.mark.parametrize("loader", list(LOADERS))
def test_tracker_run_by_a_script_loader_finds_its_settings(
    loader: str, hand_site: HandSite, collector: EventCollector, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    url = hand_site.url(f"/loader-{loader}.html")
    page.goto(url)
    view = _wait_event(collector, "PageView", url=url)
    assert (view["landing_page_id"], view["campaign_id"]) == (LANDING_PAGE_ID, SITE_CAMPAIGN)
    page.click("#loader-cta")
    click = _wait_event(collector, "AddToCart", button_id="loader-cta")
    assert click["campaign_id"] == SITE_CAMPAIGN
    page.wait_for_timeout(QUIET_MS)

    assert _urls(collector) == [url]
    assert len(_of_type(collector, "AddToCart")) == 1
    _assert_clean(collector)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- 6. bfcache


def test_back_forward_cache_restore_is_a_new_pageview(
    hand_site: HandSite, collector: EventCollector, chromium_variant: Callable[..., Browser]
) -> None:
    bfcache = chromium_variant(ignore_default_args=["--disable-back-forward-cache"])
    context = bfcache.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        a, b = hand_site.url("/bf-a.html"), hand_site.url("/bf-b.html")
        page.goto(a)
        _wait_event(collector, "PageView", url=a)
        page.click("#to-b")
        _wait_event(collector, "PageView", url=b, referrer=a)

        # Restores fire no load event: wait for the page's own pageshow flag.
        page.evaluate("history.back()")
        page.wait_for_function("window.__restored === 1 && location.pathname === '/bf-a.html'")
        collector.wait_for_count(3, "PageView")
        page.evaluate("history.forward()")
        page.wait_for_function("window.__restored === 1 && location.pathname === '/bf-b.html'")
        collector.wait_for_count(4, "PageView")
        page.wait_for_timeout(QUIET_MS)

        assert _urls(collector) == [a, b, a, b]
        assert hand_site.server.requests_for("/bf-a.html") == [""]  # restored, never reloaded
        _assert_clean(collector)
        assert errors == []
    finally:
        context.close()


# --------------------------------------------------------------------------- 7. prerendering


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.05)


def test_prerendered_page_sends_its_pageview_only_when_activated(
    hand_site: HandSite, collector: EventCollector, tmp_path: Path
) -> None:
    server = hand_site.server
    first, following = hand_site.url("/pr-first.html"), hand_site.url("/pr-next.html")
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    # No DevTools connection (it would block prerendering): a plain browser process.
    process = subprocess.Popen(
        [
            executable,
            "--headless=new",
            f"--user-data-dir={tmp_path / 'profile'}",
            *CHROMIUM_ARGS,
            first,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # A busy machine may take a while to start a browser.
        _wait_until(lambda: bool(server.requests_for("/pr-first.html")), 30, "no browser came")
        _wait_event(collector, "PageView", url=first)
        _wait_until(
            lambda: bool(server.requests_for("/pr-next.html")),
            WAIT,
            f"Chromium did not prerender pr-next.html (requests: {server.log})",
        )
        assert server.requests_for("/pr-next.html") == ["prefetch;prerender"], server.log
        # The prerendered page has had time to send, had it not waited for its activation.
        time.sleep(BOOT_MS / 1000)
        assert _urls(collector) == [first]

        server.go.set()
        view = _wait_event(collector, "PageView", url=following)
        assert view["event_data"]["referrer"] == first

        def activated() -> list[str]:
            return [p for p, _ in list(server.log) if p.startswith("/probe/activated?start=")]

        _wait_until(lambda: bool(activated()), WAIT, f"no activation reported: {server.log}")
        assert int(activated()[0].rsplit("=", 1)[1]) > 0  # activationStart: it was a prerender
        time.sleep(QUIET_MS / 1000)
        assert _urls(collector) == [first, following]
        assert server.requests_for("/pr-next.html") == ["prefetch;prerender"]
        assert server.requests_for("/probe/loaded-fresh") == []
        _assert_clean(collector)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
