"""Hosted checkout hand-off (``checkout_links``) in real Chromium, against the real collector.

A link to a configured checkout prefix gets the visitor's session id as the checkout's parameter
(Stripe payment links: ``client_reference_id``) as the visitor follows or copies it: the value the
checkout receives must be the ``session_id`` the collector got. The checkouts are played by
Playwright's routing (every request off 127.0.0.1 is recorded and answered with a small page), so
the tests see the exact URL the browser asked the checkout for. Lookalike hosts, other paths and
unconfigured links must never change, and a page that may not send (an excluded browser, a
loopback preview sending to a remote collector, an opted-out page) decorates nothing.

The last tests build real MkDocs and Pelican sites with the setting and follow their Stripe link.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import html as lxml_html

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_page_marker, render_snippet
from tests.sites import ROOT, one_page_builds

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Request, Route

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]

STRIPE = "https://buy.stripe.com/"
SHOP = "https://shop.example/checkout/"
CHECKOUT_LINKS = [STRIPE, {"prefix": SHOP, "param": "ref"}]
#: Stripe: "client_reference_id can be composed of alphanumeric characters, dashes, or
#: underscores, and be any value up to 200 characters"
#: (https://docs.stripe.com/payment-links/url-parameters).
STRIPE_REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,200}")
OFF_HOST = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
QUIET_MS = 300

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout page</title>{head}</head>
<body>
{marker}
<h1>Desk</h1>
<a class="cta-button" id="stripe"
   href="https://buy.stripe.com/test_00g?prefilled_email=a%40b.example&amp;x#pay">Buy</a>
<a id="stripe-again" href="https://buy.stripe.com/test_11?client_reference_id=old">Buy again</a>
<a id="shop" href="https://shop.example/checkout/cart?x=1&amp;ref=old&amp;y=%20">Shop</a>
<a id="shop-blog" href="https://shop.example/blog/">Shop blog</a>
<a id="lookalike" href="https://buy.stripe.com.evil.example/test_00g">Lookalike</a>
<a id="userinfo" href="https://buy.stripe.com@evil.example/test_00g">Userinfo</a>
<a id="plain-http" href="http://buy.stripe.com/test_00g">http</a>
<a id="other" href="https://example.org/pay">Other</a>
<a id="relative" href="/pay?x=1">Relative</a>
<pay-widget id="widget"></pay-widget>
<form id="get-form" action="https://buy.stripe.com/test_form?dropped=1" method="get">
  <input name="q" value="desk"><button id="get-submit">Pay (GET)</button>
</form>
<form id="post-form" action="https://shop.example/checkout/post?x=1" method="post">
  <input name="q" value="desk"><button id="post-submit">Pay (POST)</button>
</form>
<script>
  customElements.define("pay-widget", class extends HTMLElement {{
    connectedCallback() {{
      this.attachShadow({{mode: "open"}}).innerHTML =
        '<a id="shadow-pay" href="{local}pay/desk.html?plan=pro"><span>Pay</span></a>';
    }}
  }});
</script>
</body></html>
"""

UNTOUCHED = {
    "shop-blog": "https://shop.example/blog/",
    "lookalike": "https://buy.stripe.com.evil.example/test_00g",
    "userinfo": "https://buy.stripe.com@evil.example/test_00g",
    "plain-http": "http://buy.stripe.com/test_00g",
    "other": "https://example.org/pay",
}


def _route_checkouts(context: BrowserContext) -> list[tuple[str, str]]:
    """Answers every request off 127.0.0.1 with a small page; returns the ``(method, url)`` list
    those requests are recorded in."""
    seen: list[tuple[str, str]] = []

    def answer(route: Route, request: Request) -> None:
        seen.append((request.method, request.url))
        route.fulfill(
            status=200, body="<!doctype html><title>Checkout</title>", content_type="text/html"
        )

    context.route(OFF_HOST, answer)
    return seen


def _off_host(request: Request) -> bool:
    return bool(OFF_HOST.match(request.url))


def _follow(context: BrowserContext, action: Callable[[], None]) -> Request:
    """Do ``action`` and return the request it makes to a checkout (or any host off 127.0.0.1)."""
    with context.expect_event("request", predicate=_off_host) as request:
        action()
    return request.value


@dataclass
class Shop:
    page: Page
    context: BrowserContext
    base: str
    checkouts: list[tuple[str, str]]
    local: str  # the loopback checkout's base URL

    def follow(self, action: Callable[[], None]) -> str:
        return _follow(self.context, action).url


@pytest.fixture
def shop(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> Iterator[Callable[..., Shop]]:
    """``shop(head="", api=collector.url, opted_out=False)``: the page served, checkouts routed."""

    def make(head: str = "", api: str | None = None, opted_out: bool = False) -> Shop:
        # A checkout on loopback too (an http://127.0.0.1 prefix), for what routing cannot
        # reach: Playwright does not route the first request of a tab opened by a middle click.
        local = tmp_path / "local-checkout"
        (local / "pay").mkdir(parents=True)
        (local / "pay" / "desk.html").write_text("<!doctype html><title>Pay</title>", "utf-8")
        local_url = serve_dir(local) + "/"
        links = [*CHECKOUT_LINKS, {"prefix": local_url + "pay/", "param": "cid"}]
        config = TrackingConfig("lp_checkout", api or collector.url, checkout_links=links)  # type: ignore[arg-type]
        marker = render_page_marker(None) if opted_out else ""
        page = PAGE.format(head=head, marker=marker, local=local_url)
        site = tmp_path / "site"
        site.mkdir()
        (site / "index.html").write_text(inject(page, render_snippet(config)).html, "utf-8")
        checkouts = _route_checkouts(browser_page.context)
        return Shop(browser_page.page, browser_page.context, serve_dir(site), checkouts, local_url)

    yield make
    assert browser_page.errors == []


def _session(collector: EventCollector) -> str:
    view = collector.wait_for_count(1, "PageView")[0]
    session: str = view["session_id"]
    return session


def _href(page: Page, selector: str) -> str:
    href: str = page.eval_on_selector(selector, "a => a.getAttribute('href')")
    return href


# --------------------------------------------------------------------------- decoration


def test_stripe_link_carries_the_collectors_session_id(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop()
    s.page.goto(s.base + "/index.html")
    session = _session(collector)
    url = s.follow(lambda: s.page.click("#stripe"))
    # The query as written (%40 stays, the bare "x" stays), the parameter appended.
    assert url == (
        "https://buy.stripe.com/test_00g?prefilled_email=a%40b.example&x"
        f"&client_reference_id={session}"
    )
    s.page.wait_for_url(re.compile(r"#pay$"))  # the fragment is kept
    assert STRIPE_REFERENCE.fullmatch(session)  # what Stripe accepts as client_reference_id
    assert re.fullmatch(r"sess_\d+_[a-z0-9]+", session)


EARLY = """<script>
addEventListener("DOMContentLoaded", function () {
  var a = document.getElementById("stripe");
  console.log("activating");
  a.dispatchEvent(new MouseEvent("contextmenu", {bubbles: true, composed: true}));
  window.hrefAfter = a.getAttribute("href");
});
</script>"""


def test_activation_before_the_tracker_started_starts_it(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    """A checkout link activated as soon as the page is parsed, before the tracker's idle-time
    start: the tracker starts at once (its "sending to" log comes after the activation), the
    link gets the session id, and the landing PageView carries the same one."""
    s = shop(head=EARLY)
    messages: list[str] = []
    s.page.on("console", lambda message: messages.append(message.text))
    s.page.goto(s.base + "/index.html?aae_debug=1")
    session = _session(collector)
    order = [m.strip() for m in messages if m == "activating" or "sending to" in m]
    assert order[:2] == ["activating", f"aae-tracking: sending to {collector.events_url}"]
    assert s.page.evaluate("window.hrefAfter") == (
        f"https://buy.stripe.com/test_00g?prefilled_email=a%40b.example&x"
        f"&client_reference_id={session}#pay"
    )


def test_custom_parameter_replaces_its_old_value_and_keeps_the_rest(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop()
    s.page.goto(s.base + "/index.html")
    session = _session(collector)
    url = s.follow(lambda: s.page.click("#shop"))
    assert url == f"https://shop.example/checkout/cart?x=1&y=%20&ref={session}"
    s.page.go_back()
    url = s.follow(lambda: s.page.click("#stripe-again"))
    assert url == f"https://buy.stripe.com/test_11?client_reference_id={session}"


def test_lookalikes_other_paths_and_unconfigured_links_are_untouched(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop()
    s.page.goto(s.base + "/index.html")
    _session(collector)
    for link in [*UNTOUCHED, "relative"]:
        s.page.click(f"#{link}", button="right")  # pointerdown, contextmenu
        s.page.focus(f"#{link}")
        s.page.keyboard.press("Shift+F10")  # contextmenu from the keyboard
    assert {link: _href(s.page, f"#{link}") for link in UNTOUCHED} == UNTOUCHED
    assert _href(s.page, "#relative") == "/pay?x=1"
    # Followed for real, the lookalike is asked for exactly its own URL.
    assert s.follow(lambda: s.page.click("#lookalike")) == UNTOUCHED["lookalike"]


def test_middle_click_keyboard_and_context_menu_decorate(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop()
    s.page.goto(s.base + "/index.html")
    session = _session(collector)
    # Context menu from the keyboard (no pointer event at all): "copy link address" copies this.
    s.page.focus("#shop")
    s.page.keyboard.press("Shift+F10")
    assert _href(s.page, "#shop") == f"https://shop.example/checkout/cart?x=1&y=%20&ref={session}"
    # Right-click.
    s.page.click("#stripe-again", button="right")
    assert _href(s.page, "#stripe-again") == (
        f"https://buy.stripe.com/test_11?client_reference_id={session}"
    )
    # Middle click, inside an open shadow root: the new tab opens the decorated link.
    with s.context.expect_page() as opened:
        s.page.click("#widget >> #shadow-pay span", button="middle")
    opened.value.wait_for_load_state()
    assert opened.value.url == f"{s.local}pay/desk.html?plan=pro&cid={session}"
    # Enter on the focused link.
    s.page.focus("#stripe")
    url = s.follow(lambda: s.page.keyboard.press("Enter"))
    assert url.endswith(f"&x&client_reference_id={session}")


def test_forms_to_a_checkout(shop: Callable[..., Shop], collector: EventCollector) -> None:
    s = shop()
    s.page.goto(s.base + "/index.html")
    session = _session(collector)
    # GET: the browser replaces the action's query by the fields: a hidden field carries it.
    request = _follow(s.context, lambda: s.page.click("#get-submit"))
    assert request.url == f"https://buy.stripe.com/test_form?q=desk&client_reference_id={session}"
    # A fresh load of the page, not go_back(): going back from the routed checkout page races
    # with that page's own load in Chromium ("Not attached to an active page").
    s.page.goto(s.base + "/index.html")
    # POST: in the action's query, next to what was there.
    request = _follow(s.context, lambda: s.page.click("#post-submit"))
    assert (request.method, request.url) == (
        "POST",
        f"https://shop.example/checkout/post?x=1&ref={session}",
    )
    assert request.post_data == "q=desk"


def test_debug_mode_logs_the_decoration(
    shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop()
    messages: list[str] = []
    s.page.on("console", lambda message: messages.append(message.text))
    s.page.goto(s.base + "/index.html?aae_debug=1")
    session = _session(collector)
    s.page.click("#stripe-again", button="right")
    expected = f"https://buy.stripe.com/test_11?client_reference_id={session}"
    assert messages.count(f"aae-tracking: checkout link decorated {expected}") == 1


# ------------------------------------------------------------------- pages that may not send

DECIDED = {
    "excluded-browser": "aae-tracking: not sending: browser excluded (aae_ignore)",
    "loopback-preview": "aae-tracking: not sending: loopback page, remote collector",
    "opted-out-page": "aae-tracking: PageView dropped: page not tracked",
}


@pytest.mark.parametrize("case", list(DECIDED))
def test_a_page_that_may_not_send_decorates_nothing(
    case: str, shop: Callable[..., Shop], collector: EventCollector
) -> None:
    s = shop(
        api="https://collector.example" if case == "loopback-preview" else None,
        opted_out=case == "opted-out-page",
    )
    if case == "excluded-browser":
        s.page.add_init_script("localStorage.setItem('aae_ignore', 'true')")
    with s.page.expect_console_message(lambda m: m.text.startswith(DECIDED[case])):
        s.page.goto(s.base + "/index.html?aae_debug=1")
    s.page.click("#shop", button="right")
    s.page.focus("#stripe-again")
    s.page.keyboard.press("Shift+F10")
    assert _href(s.page, "#shop") == "https://shop.example/checkout/cart?x=1&ref=old&y=%20"
    assert (
        _href(s.page, "#stripe-again") == "https://buy.stripe.com/test_11?client_reference_id=old"
    )
    url = s.follow(lambda: s.page.click("#stripe"))
    assert url == "https://buy.stripe.com/test_00g?prefilled_email=a%40b.example&x"
    s.page.wait_for_timeout(QUIET_MS)  # a keepalive request sent on leaving would be here now
    assert "_aae_sid" not in str(s.context.cookies())
    # Nothing but the checkout page went off 127.0.0.1 (the remote collector of the preview
    # case would be routed too), and nothing reached the local collector.
    assert s.checkouts == [("GET", url)]
    assert collector.events == []


# --------------------------------------------------------------------------- real builds

BUY_MD = '<a class="cta-button" id="buy" href="https://buy.stripe.com/test_00g?locale=de">Buy</a>\n'


@pytest.mark.parametrize(
    "build",
    one_page_builds(
        lambda api: {
            "landing_page_id": "lp_checkout",
            "api_base_url": api,
            "checkout_links": [STRIPE, {"prefix": SHOP, "param": "ref"}],
        },
        BUY_MD,
    ),
)
def test_real_builds_hand_the_session_to_the_checkout(
    build: Callable[[Path, str], tuple[Path, str]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site, path = build(tmp_path, collector.url)
    tags = lxml_html.document_fromstring((site / path.lstrip("/")).read_bytes()).xpath(
        "//script[@data-aae-tracking='tracker']/@data-checkout"
    )
    assert [json.loads(tag) for tag in tags] == [[[STRIPE, "client_reference_id"], [SHOP, "ref"]]]
    page = browser_page.page
    _route_checkouts(browser_page.context)
    page.goto(serve_dir(site) + path)
    session = _session(collector)
    url = _follow(browser_page.context, lambda: page.click("#buy")).url
    assert url == f"https://buy.stripe.com/test_00g?locale=de&client_reference_id={session}"
    click = collector.wait_for_count(1, "AddToCart")[0]  # the CTA still counts
    assert click["session_id"] == session
    assert browser_page.errors == []


# --------------------------------------------------------------------------- the docs' webhook

WEBHOOK_SECRET = "whsec_test_secret"


def _docs_webhook(tmp_path: Path, collector: EventCollector) -> Any:
    """The handler of docs/checkout.md (its ``# stripe_webhook.py`` block), pointed at the
    test collector."""
    text = (ROOT / "docs" / "checkout.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
    found = [block for block in blocks if block.startswith("# stripe_webhook.py")]
    assert len(found) == 1
    script = tmp_path / "stripe_webhook.py"
    script.write_text(found[0], "utf-8")
    spec = importlib.util.spec_from_file_location("stripe_webhook", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vars(module).update(
        WEBHOOK_SECRET=WEBHOOK_SECRET,
        EVENTS_URL=collector.events_url,
        LANDING_PAGE_ID="lp_checkout",
        CAMPAIGN_ID=None,
    )
    return module


def _stripe_delivery(
    session: dict[str, Any],
    event_type: str = "checkout.session.completed",
    stamp: int | None = None,
    secret: str = WEBHOOK_SECRET,
) -> tuple[bytes, str]:
    """A webhook delivery as Stripe makes it: the JSON body and its Stripe-Signature header
    (t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">)."""
    body = json.dumps(
        {
            "id": "evt_test_1",
            "object": "event",
            "type": event_type,
            "data": {"object": {"object": "checkout.session", **session}},
        }
    ).encode()
    stamp = int(time.time()) if stamp is None else stamp
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={signature}"


def test_docs_webhook_reports_the_purchase_with_the_landing_session(
    shop: Callable[..., Shop], collector: EventCollector, tmp_path: Path
) -> None:
    """End to end: the session id that a real click handed to the checkout comes back in a
    signed checkout.session.completed; the docs' handler posts the Purchase with it."""
    s = shop()
    s.page.goto(s.base + "/index.html")
    view = collector.wait_for_count(1, "PageView")[0]
    url = s.follow(lambda: s.page.click("#stripe"))
    reference = parse_qs(urlsplit(url).query)["client_reference_id"][0]
    assert reference == view["session_id"]

    webhook = _docs_webhook(tmp_path, collector)
    session = {
        "id": "cs_test_a1B2c3",
        "client_reference_id": reference,
        "payment_status": "paid",
        "amount_total": 39900,
        "currency": "eur",
    }
    webhook.handle(*_stripe_delivery(session))
    purchase = collector.wait_for_count(1, "Purchase")[0]
    assert purchase["session_id"] == view["session_id"]
    assert purchase["event_id"] == "purchase:lp_checkout:cs_test_a1B2c3"
    assert {k: v for k, v in purchase["event_data"].items() if k != "timestamp"} == {
        "value": 399.0,
        "currency": "EUR",
        "order_id": "cs_test_a1B2c3",
    }
    # Stripe delivers again: still one purchase. A zero-decimal currency is not divided. (The
    # page's own resends on leaving for the checkout may add duplicates of its events at any
    # moment: only the webhook's requests, those of this order's event_id, are counted.)
    webhook.handle(*_stripe_delivery(session))
    order = ("purchase:lp_checkout:cs_test_a1B2c3",)
    deliveries = [a for a in collector.attempts if a.event_ids == order]
    assert [(a.status, a.accepted, a.duplicates) for a in deliveries] == [(200, 1, 0), (200, 0, 1)]
    assert len([e for e in collector.events if e["event_type"] == "Purchase"]) == 1
    yen = {**session, "id": "cs_test_yen", "amount_total": 5000, "currency": "jpy"}
    webhook.handle(*_stripe_delivery(yen, "checkout.session.async_payment_succeeded"))
    assert collector.wait_for_count(2, "Purchase")[1]["event_data"]["value"] == 5000

    # Not reported: unpaid, no reference from a tracked page, other event types.
    for other, kind in [
        ({**session, "id": "cs_2", "payment_status": "unpaid"}, "checkout.session.completed"),
        ({**session, "id": "cs_3", "client_reference_id": None}, "checkout.session.completed"),
        ({**session, "id": "cs_4", "client_reference_id": "user_42"}, "checkout.session.completed"),
        ({**session, "id": "cs_5"}, "checkout.session.expired"),
    ]:
        webhook.handle(*_stripe_delivery(other, kind))
    # Refused: a forged signature, a tampered body, a replay outside the tolerance.
    body, header = _stripe_delivery({**session, "id": "cs_6"}, secret="whsec_wrong")
    with pytest.raises(webhook.BadRequestError, match="signature"):
        webhook.handle(body, header)
    body, header = _stripe_delivery({**session, "id": "cs_7"})
    with pytest.raises(webhook.BadRequestError, match="signature"):
        webhook.handle(body.replace(b"39900", b"1"), header)
    with pytest.raises(webhook.BadRequestError, match="too old"):
        webhook.handle(*_stripe_delivery({**session, "id": "cs_8"}, stamp=int(time.time()) - 600))
    with pytest.raises(webhook.BadRequestError, match="timestamp"):
        webhook.handle(b"{}", "v1=abc")
    posted = [a.event_ids for a in collector.attempts if a.origin is None]  # not a browser
    assert posted == [
        ("purchase:lp_checkout:cs_test_a1B2c3",),
        ("purchase:lp_checkout:cs_test_a1B2c3",),
        ("purchase:lp_checkout:cs_test_yen",),
    ]
