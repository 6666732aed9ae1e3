"""CTA activations and labels, and declarative purchases, in real Chromium.

Each test serves one small page (rendered with the real engine) next to a real collector on
loopback and asserts what arrives. A CTA activation must count exactly once whatever way the
visitor uses: click, modifier click, middle click (``auxclick``, no ``click``), keyboard,
inside an open shadow root or a nested element; right-click never counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

QUIET_MS = 400
Event = dict[str, Any]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>CTA page</title></head>
<body>
<h1>Desk</h1>
<a class="cta-button" id="link-cta" href="#bought">Buy <b>now</b></a>
<button data-cta="true" id="button-cta">Add to cart</button>
<div class="cta-button" id="div-cta" role="button" tabindex="0">Custom CTA</div>
<div class="cta-button" id="clicky-div" role="button" tabindex="0">Key to click</div>
<a class="cta-button" id="image-cta" href="#img"><img src="data:," alt="Order the desk"></a>
<a class="cta-button" id="aria-cta" href="#aria" aria-label="Aria label"
   ><svg width="4" height="4"></svg></a>
<a class="cta-button" id="emoji-cta" href="#emoji"></a>
<input type="submit" class="cta-button" id="input-cta" value="Submit order">
<input type="text" class="cta-button" id="text-cta" value="typed by the visitor">
<button id="plain">Not a CTA</button>
<shop-widget id="widget"></shop-widget>
<script>
  // A page's own keyboard handling for its custom button: Enter clicks it.
  document.getElementById("clicky-div").addEventListener("keydown", function (e) {
    if (e.key === "Enter") this.click();
  });
  // A web component with its CTA inside an open shadow root.
  customElements.define("shop-widget", class extends HTMLElement {
    connectedCallback() {
      var root = this.attachShadow({ mode: "open" });
      root.innerHTML =
        '<button class="cta-button" id="shadow-cta"><span>In the shadow</span></button>';
    }
  });
  // A label cut at 200 characters right after an emoji's first half in UTF-16.
  document.getElementById("emoji-cta").textContent = "x".repeat(199) + "\\u{1F600}tail";
  window.pageClicks = 0;
  document.addEventListener("click", function () { window.pageClicks++; });
</script>
</body></html>
"""


@pytest.fixture
def cta_page(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> Iterator[Page]:
    config = TrackingConfig(landing_page_id="lp_cta", api_base_url=collector.url)
    (tmp_path / "index.html").write_text(inject(PAGE, render_snippet(config)).html, "utf-8")
    page = browser_page.page
    page.goto(serve_dir(tmp_path) + "/index.html")
    collector.wait_for_count(1, "PageView")
    yield page
    assert browser_page.errors == []


def _clicks(collector: EventCollector, expected: int) -> list[Event]:
    if expected:
        collector.wait_for_count(expected, "AddToCart")
    collector.wait_for_count(1, "PageView")
    time.sleep(QUIET_MS / 1000)
    return [e for e in collector.events if e["event_type"] == "AddToCart"]


def _ids(events: list[Event]) -> list[str | None]:
    return sorted(str(e["event_data"]["button_id"]) for e in events)


def test_mouse_activations_count_once_and_right_click_never(
    cta_page: Page, collector: EventCollector
) -> None:
    page = cta_page
    page.click("#link-cta")  # primary
    page.click("#button-cta", modifiers=["Control"])  # modifier click
    page.click("#div-cta", button="middle")  # auxclick only
    page.click("#image-cta", button="right")  # never
    page.click("#plain")  # not a CTA
    page.click("#link-cta b")  # a nested element
    events = _clicks(collector, 4)
    assert _ids(events) == ["button-cta", "div-cta", "link-cta", "link-cta"]
    assert len({e["event_id"] for e in events}) == 4


def test_keyboard_activations_count_once(cta_page: Page, collector: EventCollector) -> None:
    page = cta_page
    page.focus("#link-cta")
    page.keyboard.press("Enter")  # the browser turns it into a click
    page.focus("#button-cta")
    page.keyboard.press("Space")  # likewise, on keyup
    page.focus("#div-cta")
    page.keyboard.press("Enter")  # no click at all: counted by the tracker itself
    page.focus("#clicky-div")
    page.keyboard.press("Enter")  # the page clicks it itself: still once
    page.focus("#plain")
    page.keyboard.press("Enter")
    page.focus("#div-cta")
    page.keyboard.press("Tab")  # other keys never count
    events = _clicks(collector, 4)
    assert _ids(events) == ["button-cta", "clicky-div", "div-cta", "link-cta"]


def test_cta_inside_an_open_shadow_root(cta_page: Page, collector: EventCollector) -> None:
    cta_page.click("#widget >> #shadow-cta span")
    events = _clicks(collector, 1)
    assert _ids(events) == ["shadow-cta"]
    assert events[0]["event_data"]["button_text"] == "In the shadow"


def test_labels(cta_page: Page, collector: EventCollector) -> None:
    page = cta_page
    for selector in ("#image-cta", "#aria-cta", "#emoji-cta", "#input-cta", "#text-cta"):
        page.click(selector)
    events = {e["event_data"]["button_id"]: e["event_data"] for e in _clicks(collector, 5)}
    assert events["image-cta"]["button_text"] == "Order the desk"  # the image's alt
    assert events["aria-cta"]["button_text"] == "Aria label"
    assert events["input-cta"]["button_text"] == "Submit order"
    assert events["text-cta"]["button_text"] == ""  # a text field's value is the visitor's
    emoji = events["emoji-cta"]["button_text"]
    assert emoji == "x" * 199 + "\U0001f600"  # 200 characters, the emoji whole
    # Well-formed on the wire: the raw request body round-trips through strict UTF-8.
    json.dumps(emoji, ensure_ascii=False).encode("utf-8", "strict")


DECLARATIVE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Thanks</title></head>
<body><p>Thank you!</p>
<div data-aae-purchase data-aae-value="75.5" data-aae-currency="gbp" data-aae-order-id="A-1"
  hidden></div>
<div data-aae-purchase data-aae-value="" data-aae-currency="GBP" hidden></div>
</body></html>
"""


def test_declarative_purchase_once_per_order(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig(landing_page_id="lp_decl", api_base_url=collector.url)
    (tmp_path / "thanks.html").write_text(inject(DECLARATIVE, render_snippet(config)).html, "utf-8")
    page = browser_page.page
    url = serve_dir(tmp_path) + "/thanks.html"
    page.goto(url)
    (purchase,) = collector.wait_for_count(1, "Purchase")
    assert purchase["event_data"]["value"] == 75.5
    assert purchase["event_data"]["currency"] == "GBP"
    assert purchase["event_data"]["order_id"] == "A-1"
    assert purchase["event_id"] == "purchase:lp_decl:A-1"
    page.reload()
    collector.wait_for_count(2, "PageView")
    page.wait_for_timeout(QUIET_MS)
    # The reload does not count the order again; the element without a value is no purchase.
    assert len([e for e in collector.events if e["event_type"] == "Purchase"]) == 1
    # The invalid one was only warned about: nothing is logged as an error.
    assert browser_page.errors == []
