"""What a page stores and sends, for the consent, GPC and cookieless tests (tests/browser).

:func:`watch` records every request the pages of a Playwright context make and serves the
recording Facebook stand-in (tests/pixel_helpers.py) for fbevents.js and an empty GIF for
anything else of Facebook's; :func:`stored` reads the cookies, ``localStorage`` and
``sessionStorage`` of a page by name. Together they answer "what is stored, what is sent" for a
mode, before and after the visitor's choice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.pixel_helpers import FBEVENTS, STAND_IN

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Frame, Page, Request, Route

#: A landing page: a CTA and a purchase its own script reports before the tracker has loaded.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Desk</title>{head}</head>
<body><h1>Desk</h1>
<a class="cta-button" id="buy" href="#buy">Buy the desk</a>
<a id="next" href="second.html">Next page</a>
<script>
  window.AAE_TRACKING.trackPurchase({{value: 49.5, currency: "EUR", order_id: "ORD-7"}});
</script>
</body></html>
"""
#: GPC as Chromium cannot send it (Firefox can: test_gpc.py); the property the W3C draft defines.
GPC_ON = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
    "{get: () => true, configurable: true})"
)
#: The tracker's debug message once it has decided whether the page sends (debug.js).
SENDING = "aae-tracking: sending to "
NOT_SENDING = "aae-tracking: not sending: "


def write_site(site: Path, config: TrackingConfig, head: str = "") -> Path:
    """``index.html`` and ``second.html`` (:data:`PAGE`, ``head`` added to ``<head>`` after the
    stub) tracked with ``config``, in ``site``; returns ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "second.html"):
        page = inject(PAGE.format(head=head), render_snippet(config)).html
        (site / name).write_text(page, "utf-8")
    return site


@dataclass
class Traffic:
    """Every request URL the context's pages made, in order (``requests``)."""

    requests: list[str] = field(default_factory=list)

    def to(self, prefix: str) -> list[str]:
        """The requests whose URL starts with ``prefix`` (an origin, a URL)."""
        return [url for url in self.requests if url.startswith(prefix)]

    def to_facebook(self) -> list[str]:
        """Requests to Facebook: fbevents.js, the Pixel's image."""
        return [url for url in self.requests if "facebook" in url]


def watch(context: BrowserContext) -> Traffic:
    """Record the requests of every page of ``context``; Facebook answered by the stand-in."""
    traffic = Traffic()

    def request(sent: Request) -> None:
        traffic.requests.append(sent.url)

    def fbevents(route: Route) -> None:
        route.fulfill(status=200, body=STAND_IN, content_type="text/javascript")

    def image(route: Route) -> None:
        route.fulfill(status=200, body=b"GIF89a", content_type="image/gif")

    context.on("request", request)
    context.route(FBEVENTS, fbevents)
    context.route("https://www.facebook.com/**", image)
    return traffic


def stored(page: Page | Frame, context: BrowserContext) -> dict[str, dict[str, Any]]:
    """What the page's origin holds: ``{"cookies": {name: value}, "localStorage": {key: JSON
    value}, "sessionStorage": {...}}``; cookies of every origin of ``context``."""
    storage: dict[str, dict[str, str]] = page.evaluate(
        "({local: {...localStorage}, session: {...sessionStorage}})"
    )

    def parsed(values: dict[str, str]) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in values.items()}

    return {
        "cookies": {cookie["name"]: cookie["value"] for cookie in context.cookies()},
        "localStorage": parsed(storage["local"]),
        "sessionStorage": parsed(storage["session"]),
    }


NOTHING: dict[str, dict[str, Any]] = {"cookies": {}, "localStorage": {}, "sessionStorage": {}}


def open_page(page: Page, url: str, decided: str) -> None:
    """Go to ``url`` and wait until the tracker (debug mode) logged its decision starting with
    ``decided`` (:data:`SENDING`, :data:`NOT_SENDING` + why)."""
    with page.expect_console_message(lambda message: message.text.startswith(decided)):
        page.goto(url)


def leave(page: Page) -> None:
    """What the tracker does when the page is left (pagehide: send what is buffered, store the
    rest), without leaving it; then 500 ms for any request it would start."""
    page.evaluate("dispatchEvent(new PageTransitionEvent('pagehide'))")
    page.wait_for_timeout(500)


def pixel_calls(page: Page) -> list[list[Any]]:
    """The ``fbq`` calls the stand-in recorded ([] when fbevents.js never loaded)."""
    calls: list[list[Any]] = page.evaluate("window.__fbq || []")
    return calls


def wait_for_pixel_calls(page: Page, n: int) -> list[list[Any]]:
    """The stand-in's calls once there are at least ``n``."""
    page.wait_for_function(f"(window.__fbq || []).length >= {n}")
    return pixel_calls(page)


def by_type(events: list[dict[str, Any]]) -> Callable[[str], list[dict[str, Any]]]:
    """``of(kind)``: the events of one type, in arrival order."""
    return lambda kind: [event for event in events if event["event_type"] == kind]
