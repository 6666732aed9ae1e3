"""Global Privacy Control in real browsers: what is stored and what is sent.

GPC (``navigator.globalPrivacyControl``) is honoured by default as an opt-out of all tracking on
the page: no event to our collector, no Pixel, nothing stored, whatever the consent setting and
the visitor's consent() (CCPA/CPRA treat the signal as a binding opt-out of sale and sharing;
docs/consent.md). With ``gpc: first-party`` our own events are sent while the Pixel stays off:
fbevents.js is not loaded, and the keys that would match the visitor at Meta (``fbp``/``fbc``)
are not in our events either.

Chromium has no GPC setting: an init script defines the property as the W3C draft does. Firefox
ESR sends the signal natively with ``privacy.globalprivacycontrol.enabled``, checked with the real
browser (tests/engines) at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.settings import TrackingConfig
from tests.consent_helpers import (
    GPC_ON,
    NOT_SENDING,
    NOTHING,
    SENDING,
    leave,
    open_page,
    stored,
    watch,
    write_site,
)
from tests.engines import EngineError
from tests.pixel_helpers import PIXEL_ID

if TYPE_CHECKING:
    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]


def config(collector: EventCollector, **settings: object) -> TrackingConfig:
    return TrackingConfig(
        "lp_gpc",
        collector.url,
        facebook_pixel_id=PIXEL_ID,
        debug=True,
        engagement=False,
        **settings,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("consent", ["none", "opt-in", "opt-out"])
def test_gpc_stops_all_tracking_by_default_even_after_consent(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Serve,
    browser_page: BrowserPage,
    consent: str,
) -> None:
    page, context = browser_page.page, browser_page.context
    context.add_init_script(GPC_ON)
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent=consent)))
    open_page(page, site + "/index.html?fbclid=IwAR0abc", NOT_SENDING + "Global Privacy Control")
    page.click("#buy")
    if consent != "none":
        page.evaluate("AAE_TRACKING.consent(true)")  # GPC still wins
        page.click("#buy")
    leave(page)
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    assert traffic.to_facebook() == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    # The visitor's own choice is kept (it applies if they turn GPC off); nothing else is.
    choice = {} if consent == "none" else {"aae_consent": True}
    assert stored(page, context) == {**NOTHING, "localStorage": choice}
    assert browser_page.errors == []


def test_gpc_first_party_keeps_our_events_and_keeps_the_pixel_off(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    context.add_init_script(GPC_ON)
    traffic = watch(context)
    settings = config(collector, gpc="first-party")
    site = serve_dir(write_site(tmp_path / "site", settings))
    open_page(page, site + "/index.html?fbclid=IwAR0abc", SENDING)
    page.click("#buy")
    view = collector.wait_for_count(1, "PageView")[0]
    purchase = collector.wait_for_count(1, "Purchase")[0]
    click = collector.wait_for_count(1, "AddToCart")[0]
    leave(page)
    # Nothing for Meta: no script, no image, no match keys in our events.
    assert traffic.to_facebook() == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    for event in (view, purchase, click):
        assert not {"fbp", "fbc"} & set(event["event_data"]), event
    # First-party measurement as usual: the session cookie.
    assert stored(page, context)["cookies"] == {"_aae_sid": view["session_id"]}
    assert browser_page.errors == []


def test_without_gpc_the_same_site_sends_to_the_pixel(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    """The control for the two tests above: the signal, not the site, keeps the Pixel off."""
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, gpc="first-party")))
    open_page(page, site + "/index.html?fbclid=IwAR0abc", SENDING)
    view = collector.wait_for_count(1, "PageView")[0]
    page.wait_for_function("(window.__fbq || []).length >= 2")
    assert view["event_data"]["fbc"].endswith(".IwAR0abc")
    assert len(traffic.to_facebook()) == 1
    assert browser_page.errors == []


def _wait_quiet(collector: EventCollector, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert collector.attempts == []
        time.sleep(0.1)


def test_firefox_sends_gpc_natively_and_the_tracker_honours_it(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve
) -> None:
    from tests.engines.firefox import FirefoxEngine

    try:
        firefox = FirefoxEngine(prefs={"privacy.globalprivacycontrol.enabled": True})
    except EngineError as exc:
        pytest.fail(f"firefox: {exc}", pytrace=False)
    with firefox:
        # Firefox under WebDriver reports navigator.webdriver: its sites track automation.
        default = write_site(tmp_path / "default", config(collector, track_automation=True))
        firefox.goto(serve_dir(default) + "/index.html")
        assert firefox.eval("navigator.globalPrivacyControl") is True
        firefox.eval("new Promise((done) => setTimeout(done, 1500))")  # the tracker has decided
        _wait_quiet(collector, 0.5)
        assert firefox.eval("document.cookie") == ""
        assert firefox.eval("localStorage.length + sessionStorage.length") == 0

        firefox.reset()
        kept = config(collector, track_automation=True, gpc="first-party")
        firefox.goto(serve_dir(write_site(tmp_path / "kept", kept)) + "/index.html")
        view = collector.wait_for_count(1, "PageView")[0]
        assert not {"fbp", "fbc"} & set(view["event_data"])
        assert firefox.eval("typeof window.fbq") == "undefined"
        assert firefox.native_errors() == []
