"""Nothing personal in sent URLs, campaign attribution kept: real Chromium, real collector.

- Every URL an event carries keeps no ``#fragment`` and, of its query, only the allow-list:
  ``utm_source``, ``utm_medium``, ``utm_campaign``, ``utm_term``, ``utm_content``, ``gclid``,
  ``fbclid`` and the site's ``query_params``. A referrer of another origin keeps its origin and
  path only.
- The UTM parameters of the landing address go into ``event_data`` under their own names and
  stay for the session: the next pages' PageViews, a CTA click, a custom event, the Engagement
  and the Purchase three pages later (real page loads, and Material for MkDocs' instant
  navigation) carry them. A later landing with UTM parameters replaces them; one without keeps
  them.
- Storage follows the consent rules (docs/consent.md): nothing before consent in ``opt-in``
  (the parameters wait in memory and still reach the events sent after the grant);
  ``sessionStorage`` with ``cookieless`` (one tab); removed on refusal.

The landings are hostile on purpose (an email address, a token, a password, an OAuth
``#access_token=`` fragment, another site's referrer with its search terms): the suite's
personal-data scan (tests/privacy_scan.py, run on every stored event by tests/conftest.py) fails
a test whose events carry any of it.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.consent_helpers import NOT_SENDING, SENDING, leave, open_page, stored
from tests.sites import run, wait_until_instant_ready

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]
Event = dict[str, Any]

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
#: The campaign of the first landing, and the query that brings it (with what must be dropped).
SPRING = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring sale"}
HOSTILE_QUERY = (
    "utm_source=newsletter&email=jane.doe%40example.com&utm_medium=email"
    "&utm_campaign=spring+sale&token=s3cr3t-t0ken&ref=partner&plan=pro&password=hunter2"
    "&gclid=G-123&phone=%2B44+20+7946+0958"
)
#: What the landing's ``url`` keeps of it: the allow-listed keys, as written, in their order.
KEPT_QUERY = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale&ref=partner&gclid=G-123"
)
FRAGMENT = "#access_token=ya29.secret-token&token_type=bearer"
#: Texts of the hostile landing and referrer that no event may hold.
NEVER_SENT = ("jane", "s3cr3t", "hunter2", "7946", "ya29", "access_token", "plan=", "desk+chair")

PAGES = {
    # The landing: a CTA, a custom event, and links on through three pages to the order.
    "index.html": '<h1>Desk</h1><button class="cta-button" id="buy">Buy the desk</button>'
    '<a id="next" href="offer.html">Offer</a>',
    "offer.html": '<h1>Offer</h1><a id="next" href="cart.html">Cart</a>',
    "cart.html": '<h1>Cart</h1><a id="next" href="thanks.html">Checkout</a>',
    "thanks.html": '<h1>Thanks</h1><div data-aae-purchase data-aae-value="49.5" '
    'data-aae-currency="EUR" data-aae-order-id="ORD-1" hidden></div>',
}


def config(collector: EventCollector, **settings: Any) -> TrackingConfig:
    settings.setdefault("query_params", ["ref"])
    return TrackingConfig("lp_attr", collector.url, debug=True, **settings)


def write_site(root: Path, tracking: TrackingConfig) -> Path:
    """The four pages of :data:`PAGES`, tracked with ``tracking``, in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, body in PAGES.items():
        page = f"<!doctype html><html><head><meta charset=utf-8><title>{name}</title></head>"
        page += f"<body>{body}</body></html>"
        (root / name).write_text(inject(page, render_snippet(tracking)).html, "utf-8")
    return root


def write_referrer(root: Path, landing: str) -> str:
    """A page of another site that links to ``landing`` and, by its referrer policy, gives it
    its full address (query included) as the referrer; returns the file's name."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "search.html").write_text(
        '<!doctype html><html><head><meta name="referrer" content="unsafe-url"></head><body>'
        f'<a id="ad" href="{landing}">Desks</a></body></html>',
        "utf-8",
    )
    return "search.html"


def utm(event: Event) -> dict[str, str]:
    """The UTM parameters an event carries."""
    return {key: value for key, value in event["event_data"].items() if key in UTM_KEYS}


def of(collector: EventCollector, kind: str) -> list[Event]:
    return [event for event in collector.events if event["event_type"] == kind]


def follow(page: Page, collector: EventCollector, views: int) -> Event:
    """Click ``#next`` (a real page load) and return the PageView number ``views`` once it
    arrived; the page was open at least a second, so its Engagement is sent as it is left."""
    page.wait_for_timeout(1100)
    page.click("#next")
    return collector.wait_for_count(views, "PageView")[views - 1]


def assert_nothing_personal(collector: EventCollector) -> None:
    sent = json.dumps(collector.events)
    assert [text for text in NEVER_SENT if text in sent] == []


def test_sent_urls_keep_only_the_allow_list_and_the_campaign_stays_for_the_session(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector)))
    landing = f"{site}/index.html?{HOSTILE_QUERY}{FRAGMENT}"
    # Another site (localhost is another origin than 127.0.0.1) whose address holds the
    # visitor's search and email address.
    name = write_referrer(tmp_path / "other", landing)
    search = serve_dir(tmp_path / "other").replace("127.0.0.1", "localhost") + "/" + name
    page.goto(search + "?q=desk+chair&email=jane.doe%40example.com")
    with page.expect_console_message(lambda message: message.text.startswith(SENDING)):
        page.click("#ad")
    assert page.evaluate("document.referrer").startswith(search + "?q=desk")  # full, as given

    view = collector.wait_for_count(1, "PageView")[0]
    assert view["event_data"]["url"] == f"{site}/index.html?{KEPT_QUERY}"
    assert view["event_data"]["referrer"] == search  # origin and path
    assert utm(view) == SPRING
    page.click("#buy")
    page.evaluate("AAE_TRACKING.track('Lead', {plan: 'pro'})")
    click = collector.wait_for_count(1, "AddToCart")[0]
    (lead,) = collector.wait_for_count(1, "Lead")
    assert utm(click) == utm(lead) == SPRING
    assert lead["event_data"]["url"] == view["event_data"]["url"]

    # Three real page loads later, without any UTM parameter in the address: the same campaign.
    offer, cart, thanks = (follow(page, collector, n) for n in (2, 3, 4))
    purchase = collector.wait_for_count(1, "Purchase")[0]
    assert [e["event_data"]["url"] for e in (offer, cart, thanks)] == [
        f"{site}/offer.html",
        f"{site}/cart.html",
        f"{site}/thanks.html",
    ]
    # A referrer of this site is cleaned like a page address: the landing's allow-listed keys.
    assert offer["event_data"]["referrer"] == view["event_data"]["url"]
    assert utm(offer) == utm(cart) == utm(thanks) == utm(purchase) == SPRING
    assert purchase["event_data"]["value"] == 49.5
    engagements = collector.wait_for(lambda events: len(of_type(events, "Engagement")) >= 3)
    assert [utm(e) for e in of_type(engagements, "Engagement")] == [SPRING] * 3
    assert len({e["session_id"] for e in collector.events}) == 1
    # Kept where the tracker keeps its data, with the time of the last page view.
    kept = stored(page, context)["localStorage"]["_aae_utm"]
    assert kept[1] == SPRING
    assert_nothing_personal(collector)
    assert browser_page.errors == []


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["event_type"] == kind]


def test_a_new_landing_with_utm_replaces_the_campaign_one_without_keeps_it(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    site = serve_dir(write_site(tmp_path / "site", config(collector, query_params=[])))
    page.goto(f"{site}/index.html?{HOSTILE_QUERY}{FRAGMENT}")
    first = collector.wait_for_count(1, "PageView")[0]
    # No site keys this time: ref goes too.
    assert first["event_data"]["url"] == (
        f"{site}/index.html?utm_source=newsletter&utm_medium=email&utm_campaign=spring+sale"
        "&gclid=G-123"
    )
    assert utm(first) == SPRING

    # The visitor comes back from an ad: another campaign replaces the whole set (last touch).
    page.goto(f"{site}/offer.html?utm_source=ads&utm_campaign=autumn&utm_content=banner%20b")
    second = collector.wait_for_count(2, "PageView")[1]
    autumn = {"utm_source": "ads", "utm_campaign": "autumn", "utm_content": "banner b"}
    assert utm(second) == autumn
    # A landing without UTM parameters (typed, a bookmark) keeps the session's.
    page.goto(f"{site}/cart.html?email=jane.doe%40example.com")
    third = collector.wait_for_count(3, "PageView")[2]
    assert third["event_data"]["url"] == f"{site}/cart.html"
    assert utm(third) == autumn
    follow(page, collector, 4)
    assert utm(collector.wait_for_count(1, "Purchase")[0]) == autumn
    # An empty parameter is no campaign: the session's stays.
    page.goto(f"{site}/offer.html?utm_source=&utm_medium=%20")
    assert utm(collector.wait_for_count(5, "PageView")[4]) == autumn
    assert len({e["session_id"] for e in collector.events}) == 1
    assert_nothing_personal(collector)
    assert browser_page.errors == []


def test_a_kept_key_whose_value_is_an_email_address_is_dropped_and_no_campaign(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    """A mailing tool's merge tag in a UTM value, or in a site key, is an email address: the
    pair is dropped from every sent URL and the value is no campaign parameter, not stored in
    ``_aae_utm`` either. A newcomer's trial sent ``utm_content=jane.doe@example.com`` in the
    PageView's ``url`` and ``event_data``, and kept it for 30 days."""
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector)))
    page.goto(
        f"{site}/index.html?utm_source=newsletter&utm_content=jane.doe%40example.com"
        "&ref=bob@example.org&utm_term=Jane.Doe%2Btag%40Example.co.uk&utm_campaign=spring+sale"
    )
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["event_data"]["url"] == (
        f"{site}/index.html?utm_source=newsletter&utm_campaign=spring+sale"
    )
    assert utm(view) == {"utm_source": "newsletter", "utm_campaign": "spring sale"}
    kept = stored(page, context)["localStorage"]["_aae_utm"]
    assert kept[1] == {"utm_source": "newsletter", "utm_campaign": "spring sale"}
    # The next page carries the campaign without the address.
    follow(page, collector, 2)
    assert utm(collector.wait_for_count(2, "PageView")[1]) == utm(view)
    sent = json.dumps(collector.events)
    assert [text for text in ("jane", "Jane", "bob@", "%40") if text in sent] == []
    assert browser_page.errors == []


def test_a_fragment_change_on_a_cleaned_landing_is_no_new_page(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    """The tracker compares the address bar with the landing as it was, not as it was sent:
    a fragment change (popstate) on a landing whose query was cleaned sends no PageView."""
    page = browser_page.page
    site = serve_dir(write_site(tmp_path / "site", config(collector)))
    open_page(page, f"{site}/index.html?{HOSTILE_QUERY}", SENDING)
    collector.wait_for_count(1, "PageView")
    popped = page.evaluate(
        "new Promise((done) => { addEventListener('popstate', () => done(location.hash),"
        " {once: true}); location.hash = 'details'; })"
    )
    assert popped == "#details"
    page.evaluate("AAE_TRACKING.track('Barrier')")
    collector.wait_for_count(1, "Barrier")
    page.wait_for_timeout(300)
    assert [e["event_type"] for e in collector.events] == ["PageView", "Barrier"]
    assert browser_page.errors == []


def test_opt_in_stores_nothing_before_consent_and_the_campaign_reaches_the_events_after(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent="opt-in")))
    open_page(page, f"{site}/index.html?{HOSTILE_QUERY}{FRAGMENT}", NOT_SENDING + "held")
    page.click("#buy")
    leave(page)
    assert collector.attempts == []
    assert stored(page, context) == {"cookies": {}, "localStorage": {}, "sessionStorage": {}}

    page.evaluate("AAE_TRACKING.consent(true)")
    view = collector.wait_for_count(1, "PageView")[0]
    click = collector.wait_for_count(1, "AddToCart")[0]
    assert utm(view) == utm(click) == SPRING
    assert view["event_data"]["url"] == f"{site}/index.html?{KEPT_QUERY}"
    # Stored once the visitor consented, so the next page load has it.
    now = stored(page, context)["localStorage"]
    assert set(now) == {"aae_consent", "_aae_utm"}
    assert now["_aae_utm"][1] == SPRING
    offer = follow(page, collector, 2)
    assert utm(offer) == SPRING

    # A refusal forgets the campaign with the session.
    page.evaluate("AAE_TRACKING.consent(false)")
    page.wait_for_function("localStorage.getItem('_aae_utm') === null")
    assert stored(page, context)["localStorage"] == {"aae_consent": False}
    assert_nothing_personal(collector)
    assert browser_page.errors == []


def test_opt_out_refusal_removes_the_stored_campaign(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent="opt-out")))
    open_page(page, f"{site}/index.html?utm_source=ads&utm_campaign=autumn", SENDING)
    collector.wait_for_count(1, "PageView")
    page.wait_for_function("localStorage.getItem('_aae_utm') !== null")
    page.evaluate("AAE_TRACKING.consent(false)")
    assert stored(page, context) == {
        "cookies": {},
        "localStorage": {"aae_consent": False},
        "sessionStorage": {},
    }
    # The next page of the site sends nothing and stores nothing more.
    open_page(page, f"{site}/offer.html?utm_source=x", NOT_SENDING + "consent refused")
    leave(page)
    assert stored(page, context)["localStorage"] == {"aae_consent": False}
    assert len(collector.events) == 1
    assert browser_page.errors == []


def test_cookieless_keeps_the_campaign_per_tab(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, cookieless=True)))
    open_page(page, f"{site}/index.html?{HOSTILE_QUERY}", SENDING)
    first = collector.wait_for_count(1, "PageView")[0]
    assert utm(first) == SPRING
    page.wait_for_function("sessionStorage.getItem('_aae_utm') !== null")
    now = stored(page, context)
    assert now["cookies"] == {}
    assert now["localStorage"] == {}
    assert now["sessionStorage"]["_aae_utm"][1] == SPRING

    # Another tab of the same browser: another session, without the first tab's campaign.
    other = context.new_page()
    open_page(other, f"{site}/offer.html", SENDING)
    second = collector.wait_for_count(2, "PageView")[1]
    assert second["session_id"] != first["session_id"]
    assert utm(second) == {}
    assert "_aae_utm" not in stored(other, context)["sessionStorage"]
    # The first tab goes on with its own.
    third = follow(page, collector, 3)
    assert third["session_id"] == first["session_id"]
    assert utm(third) == SPRING
    assert browser_page.errors == []


# --------------------------------------------------------------------------- Material

MKDOCS_YML = """\
site_name: Attribution
site_url: {site_url}/
theme:
  name: material
  font: false
  features: [navigation.instant]
plugins:
  - aae-tracking:
      landing_page_id: lp_material
      api_base_url: {api_base_url}
      query_params: [ref]
markdown_extensions: [attr_list, md_in_html]
nav: [index.md, offer.md, cart.md, order.md]
"""
MATERIAL_PAGES = {
    "index.md": "# Home\n\n[Offer](offer.md){#next}\n",
    "offer.md": "# Offer\n\n[Cart](cart.md){#next-cart}\n",
    "cart.md": "# Cart\n\n[Order](order.md){#next-order}\n",
    "order.md": """\
        # Order confirmed

        <div data-aae-purchase data-aae-value="12" data-aae-currency="EUR"
             data-aae-order-id="MAT-1" hidden></div>
        """,
}


def test_material_instant_navigation_carries_the_campaign_to_the_purchase(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    source, dest = tmp_path / "src", tmp_path / "site"
    (source / "docs").mkdir(parents=True)
    dest.mkdir()
    # Served first: instant navigation follows only the URLs of the sitemap, built from site_url.
    base = serve_dir(dest)
    (source / "mkdocs.yml").write_text(
        MKDOCS_YML.format(site_url=base, api_base_url=collector.url), "utf-8"
    )
    for name, text in MATERIAL_PAGES.items():
        (source / "docs" / name).write_text(textwrap.dedent(text), "utf-8")
    result = run([sys.executable, "-m", "mkdocs", "build", "-q", "-d", dest], cwd=source)
    assert result.returncode == 0, result.stderr

    page.goto(f"{base}/?{HOSTILE_QUERY}{FRAGMENT}")
    home = collector.wait_for_count(1, "PageView")[0]
    assert home["event_data"]["url"] == f"{base}/?{KEPT_QUERY}"
    assert utm(home) == SPRING
    wait_until_instant_ready(page)
    page.evaluate("window.__sameDocument = 1")
    for link, url in (("#next", "/offer/"), ("#next-cart", "/cart/"), ("#next-order", "/order/")):
        page.wait_for_timeout(1100)  # engaged a second: each view's Engagement is sent
        page.click(link)
        page.wait_for_url(base + url)
    purchase = collector.wait_for_count(1, "Purchase")[0]
    views = collector.wait_for_count(4, "PageView")
    assert page.evaluate("window.__sameDocument") == 1, "a full page load, not instant"

    assert [e["event_data"]["url"] for e in views] == [
        f"{base}/?{KEPT_QUERY}",
        f"{base}/offer/",
        f"{base}/cart/",
        f"{base}/order/",
    ]
    assert [e["event_data"]["referrer"] for e in views[1:]] == [
        e["event_data"]["url"] for e in views[:-1]
    ]
    assert [utm(e) for e in views] == [SPRING] * 4
    assert utm(purchase) == SPRING
    engagements = collector.wait_for(lambda events: len(of_type(events, "Engagement")) >= 3)
    assert [utm(e) for e in of_type(engagements, "Engagement")] == [SPRING] * 3
    assert_nothing_personal(collector)
    assert browser_page.errors == []
