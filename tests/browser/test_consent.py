"""The consent setting in real Chromium: what is stored and what is sent, before and after the
visitor's choice, at a real loopback collector and at the recording Facebook stand-in.

- ``opt-in``: nothing stored, no request, no Pixel script before consent; the events made
  before are held in memory, sent once granted (the PageView first), dropped if refused.
- ``opt-out``: tracked until refused; a refusal stops our events and the Pixel
  (``fbq('consent', 'revoke')``), removes what was stored (retry queue, backoff, session
  cookie) so nothing is sent later; granting again gives the Pixel ``fbq('consent', 'grant')``.
- ``none``: ``AAE_TRACKING.consent()`` is ignored.
- A choice made before the tracker loaded (the stub queues it) applies from the first event,
  and a stored choice from the next page load on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.settings import TrackingConfig
from tests.consent_helpers import (
    NOT_SENDING,
    NOTHING,
    SENDING,
    leave,
    open_page,
    pixel_calls,
    stored,
    wait_for_pixel_calls,
    watch,
    write_site,
)
from tests.pixel_helpers import FBEVENTS, FBP, PIXEL_ID

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]


def config(collector: EventCollector, consent: str, **settings: object) -> TrackingConfig:
    return TrackingConfig(
        "lp_consent",
        collector.url,
        facebook_pixel_id=PIXEL_ID,
        consent=consent,
        debug=True,
        engagement=False,  # one event less to account for; Engagement is held like the others
        **settings,  # type: ignore[arg-type]
    )


def test_opt_in_holds_everything_until_consent_then_sends_what_was_held(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, "opt-in")))
    open_page(page, site + "/index.html?fbclid=IwAR0abc", NOT_SENDING + "held until consent")
    page.click("#buy")
    leave(page)

    # Before consent: no request to our collector or to Facebook, nothing stored, no fbq.
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    assert traffic.to_facebook() == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    assert stored(page, context) == NOTHING

    page.evaluate("AAE_TRACKING.consent(true)")
    view = collector.wait_for_count(1, "PageView")[0]
    purchase = collector.wait_for_count(1, "Purchase")[0]
    click = collector.wait_for_count(1, "AddToCart")[0]
    calls = wait_for_pixel_calls(page, 4)

    # The held events, made before consent, with their own times, one session.
    assert view["timestamp"] < click["timestamp"]
    assert view["session_id"] == purchase["session_id"] == click["session_id"]
    assert view["event_data"]["fbc"].endswith(".IwAR0abc")
    # The Pixel is loaded only now, and gets the held events in order, with our event ids.
    assert traffic.to(FBEVENTS) == [FBEVENTS]
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
    after = stored(page, context)
    assert after["cookies"] == {"_aae_sid": view["session_id"], "_fbp": FBP}
    assert after["localStorage"] == {"aae_consent": True}
    assert after["sessionStorage"] == {}

    # The choice is remembered: the next page load sends at once, in the same session.
    open_page(page, site + "/second.html", SENDING)
    second = collector.wait_for_count(2, "PageView")[1]
    assert second["session_id"] == view["session_id"]
    assert browser_page.errors == []


def test_opt_in_refusal_drops_what_was_held_and_stores_only_the_choice(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, "opt-in")))
    open_page(page, site + "/index.html", NOT_SENDING + "held until consent")
    page.click("#buy")
    page.evaluate("AAE_TRACKING.consent(false)")
    page.click("#buy")
    leave(page)
    refused = {**NOTHING, "localStorage": {"aae_consent": False}}
    assert stored(page, context) == refused
    assert collector.attempts == []
    assert traffic.to_facebook() == []

    # Remembered: the next page load sends nothing either.
    open_page(page, site + "/second.html", NOT_SENDING + "consent refused")
    page.click("#buy")
    leave(page)
    assert stored(page, context) == refused
    assert collector.attempts == []
    assert traffic.to_facebook() == []

    # Granting later on that page sends what comes next, never what was dropped.
    page.evaluate("AAE_TRACKING.consent(true)")
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    calls = wait_for_pixel_calls(page, 2)
    leave(page)
    assert [event["event_type"] for event in collector.events] == ["AddToCart"]
    assert calls == [
        ["init", PIXEL_ID],
        ["track", "AddToCart", {"content_name": "Buy the desk"}, {"eventID": click["event_id"]}],
    ]
    assert stored(page, context)["localStorage"] == {"aae_consent": True}
    assert browser_page.errors == []


@pytest.mark.parametrize("choice", [True, False])
def test_a_choice_made_before_the_tracker_loads_is_queued_by_the_stub(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Serve,
    browser_page: BrowserPage,
    choice: bool,
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    # A consent manager's script in <head>, long before the tracker at the end of <body>.
    head = f"<script>window.AAE_TRACKING.consent({str(choice).lower()})</script>"
    site = serve_dir(write_site(tmp_path / "site", config(collector, "opt-in"), head))
    open_page(page, site + "/index.html", SENDING if choice else NOT_SENDING + "consent refused")
    if choice:
        assert collector.wait_for_count(1, "PageView")
        assert collector.wait_for_count(1, "Purchase")
        wait_for_pixel_calls(page, 3)
    else:
        leave(page)
        assert collector.attempts == []
        assert traffic.to_facebook() == []
        assert stored(page, context)["cookies"] == {}
    # Sent, the order is marked as counted (a reload will not count it again).
    marks = {"_aae_orders": ["ORD-7"]} if choice else {}
    assert stored(page, context)["localStorage"] == {"aae_consent": choice, **marks}
    assert browser_page.errors == []


def test_opt_out_tracks_until_refused_then_stops_both_and_forgets(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, "opt-out")))
    open_page(page, site + "/index.html", SENDING)
    view = collector.wait_for_count(1, "PageView")[0]
    collector.wait_for_count(1, "Purchase")
    wait_for_pixel_calls(page, 3)  # init, PageView, Purchase
    assert stored(page, context)["cookies"]["_aae_sid"] == view["session_id"]

    # An event the collector does not take waits in the retry queue (and the backoff with it).
    collector.fail(503)
    page.click("#buy")
    page.wait_for_function("(localStorage.getItem('_aae_q') || '').includes('AddToCart')")
    assert set(stored(page, context)["localStorage"]) == {"_aae_q", "_aae_b", "_aae_orders"}
    tries = len(collector.wait_for_attempts(3))

    page.evaluate("AAE_TRACKING.consent(false)")
    # What was stored is gone; only the choice is kept. The Pixel's consent is revoked.
    now = stored(page, context)
    assert now["localStorage"] == {"aae_consent": False}
    assert "_aae_sid" not in now["cookies"]
    assert pixel_calls(page)[-1] == ["consent", "revoke"]
    pixel_before = len(pixel_calls(page))

    # Nothing goes out any more: not the queued event once the collector is back, not new ones.
    collector.recover()
    page.evaluate("dispatchEvent(new Event('online'))")  # the queue's retry trigger
    page.click("#buy")
    leave(page)
    assert len(collector.attempts) == tries
    assert sorted(event["event_type"] for event in collector.events) == ["PageView", "Purchase"]
    assert len(pixel_calls(page)) == pixel_before
    assert stored(page, context)["localStorage"] == {"aae_consent": False}
    assert "_aae_sid" not in stored(page, context)["cookies"]

    # Granting again: the Pixel's consent is given back, both get the next events, in a new
    # session (the old id was forgotten with the refusal).
    page.evaluate("AAE_TRACKING.consent(true)")
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    calls = wait_for_pixel_calls(page, pixel_before + 2)
    assert calls[pixel_before:] == [
        ["consent", "grant"],
        ["track", "AddToCart", {"content_name": "Buy the desk"}, {"eventID": click["event_id"]}],
    ]
    assert click["session_id"] != view["session_id"]
    assert traffic.to(FBEVENTS) == [FBEVENTS]  # loaded once
    # Chromium reports each 503 answer on the console itself; nothing else was logged.
    assert [e for e in browser_page.errors if "status of 503" not in e] == []


def test_opt_out_refusal_is_remembered_on_the_next_page_load(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, "opt-out")))
    open_page(page, site + "/index.html", SENDING)
    collector.wait_for_count(1, "Purchase")
    page.evaluate("AAE_TRACKING.consent(false)")
    tries = len(collector.attempts)
    facebook = len(traffic.to_facebook())
    open_page(page, site + "/second.html", NOT_SENDING + "consent refused")
    page.click("#buy")
    leave(page)
    assert len(collector.attempts) == tries
    assert len(traffic.to_facebook()) == facebook
    assert pixel_calls(page) == []  # the new page never loaded the Pixel
    assert stored(page, context)["localStorage"] == {"aae_consent": False}
    assert "_aae_sid" not in stored(page, context)["cookies"]
    assert browser_page.errors == []


def test_consent_none_ignores_consent_calls(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, "none")))
    with page.expect_console_message(lambda m: m.text.startswith("aae-tracking: consent ignored")):
        open_page(page, site + "/index.html", SENDING)
        page.evaluate("AAE_TRACKING.consent(false)")
    page.click("#buy")
    collector.wait_for_count(1, "AddToCart")
    after = stored(page, context)
    assert "aae_consent" not in after["localStorage"]
    assert "_aae_sid" in after["cookies"]
    assert browser_page.errors == []


def test_the_pixel_noscript_image_is_left_out_when_consent_is_asked(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser: Browser
) -> None:
    """Without JavaScript nothing can ask: the Pixel's <noscript> image would reach Facebook."""
    context = browser.new_context(java_script_enabled=False)
    try:
        traffic = watch(context)
        for consent in ("opt-in", "opt-out", "none"):
            site = serve_dir(write_site(tmp_path / consent, config(collector, consent)))
            context.new_page().goto(site + "/index.html")
        images = [url for url in traffic.to_facebook() if "noscript=1" in url]
        assert images == [f"https://www.facebook.com/tr?id={PIXEL_ID}&ev=PageView&noscript=1"]
    finally:
        context.close()
