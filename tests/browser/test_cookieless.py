"""Cookieless mode, and session ids in a cross-site frame, in real Chromium: what is stored and
what is sent.

- ``cookieless: true``: no cookie at all (one left from before is removed); the session id
  lives in ``sessionStorage`` (``_aae_sid``): the same for the pages of one tab, another in the
  next tab; the retry queue is kept there too, nothing in ``localStorage``.
- A landing page embedded in another site (``localhost`` embedding ``127.0.0.1``: two sites) with
  the default settings: in a frame the tracker keeps the session id in the frame's
  ``sessionStorage`` (partitioned by the top-level site), never in a cookie (browsers refuse a
  SameSite=Lax cookie in a cross-site frame, and Firefox says so in the console), so the frame's
  pages share one session; the site opened on its own has its cookie session, another one. Where
  the browser blocks third-party storage too (incognito windows, "block third-party cookies"),
  the id lives in memory: each page of the frame is a new session. Firefox ESR is checked too.
  docs/consent.md documents both.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.settings import TrackingConfig
from tests.conftest import watch_errors
from tests.consent_helpers import SENDING, leave, open_page, stored, watch, write_site
from tests.engines import EngineError
from tests.static_server import CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

    from tests.conftest import BrowserPage

Event = dict[str, Any]

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]


def config(collector: EventCollector, **settings: object) -> TrackingConfig:
    return TrackingConfig(
        "lp_cookieless",
        collector.url,
        debug=True,
        engagement=False,
        **settings,  # type: ignore[arg-type]
    )


def test_cookieless_sets_no_cookie_and_keeps_the_session_per_tab(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, cookieless=True)))
    open_page(page, site + "/index.html", SENDING)
    first = collector.wait_for_count(1, "PageView")[0]
    collector.wait_for_count(1, "Purchase")
    page.click("#next")
    second = collector.wait_for_count(2, "PageView")[1]
    leave(page)

    assert second["session_id"] == first["session_id"]
    assert stored(page, context) == {
        "cookies": {},
        "localStorage": {},
        # The order mark too lives in the tab (cookieless keeps nothing beyond it).
        "sessionStorage": {"_aae_sid": first["session_id"], "_aae_orders": ["ORD-7"]},
    }
    assert page.evaluate("document.cookie") == ""

    # Another tab: another session; still no cookie.
    other = context.new_page()
    open_page(other, site + "/index.html", SENDING)
    third = collector.wait_for_count(3, "PageView")[2]
    assert third["session_id"] != first["session_id"]
    assert stored(other, context)["cookies"] == {}
    assert stored(other, context)["sessionStorage"]["_aae_sid"] == third["session_id"]
    assert traffic.to_facebook() == []
    assert browser_page.errors == []


def test_cookieless_keeps_the_retry_queue_in_the_tab(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, cookieless=True)))
    collector.fail(503)
    open_page(page, site + "/index.html", SENDING)
    collector.wait_for_attempts(2)
    page.wait_for_function("(sessionStorage.getItem('_aae_q') || '').includes('PageView')")
    now = stored(page, context)
    assert set(now["sessionStorage"]) == {"_aae_q", "_aae_b", "_aae_sid", "_aae_orders"}
    assert now["localStorage"] == {}
    assert now["cookies"] == {}
    queued = {event["event_id"] for event in now["sessionStorage"]["_aae_q"]}

    # The next page of the tab sends what the first one could not.
    collector.recover()
    page.evaluate("sessionStorage.removeItem('_aae_b')")  # no backoff wait for the test
    open_page(page, site + "/second.html", SENDING)
    collector.wait_for(lambda events: queued <= {event["event_id"] for event in events})
    assert [e for e in browser_page.errors if "status of 503" not in e] == []


def test_cookieless_removes_a_session_cookie_left_from_before(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, cookieless=True)))
    old = "sess_1700000000000_abcdefghijklmnop"
    context.add_cookies([{"name": "_aae_sid", "value": old, "url": site}])
    open_page(page, site + "/index.html", SENDING)
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["session_id"] != old
    assert stored(page, context)["cookies"] == {}
    assert browser_page.errors == []


TOP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>Another site</h1><iframe src="{src}" width="600" height="400"></iframe></body></html>
"""


def _embed(tmp_path: Path, collector: EventCollector, serve_dir: Serve) -> tuple[str, str]:
    """The landing site (127.0.0.1, default settings) and a page of another site (localhost:
    another site) that embeds it; returns their base URLs."""
    landing = serve_dir(write_site(tmp_path / "site", config(collector)))
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "index.html").write_text(TOP.format(src=landing + "/index.html"))
    return landing, serve_dir(tmp_path / "top").replace("127.0.0.1", "localhost")


def _frame_visit(page: Page, collector: EventCollector, top: str) -> tuple[Event, Event, Frame]:
    """Open ``top``, then the frame's second page; the frame's two PageViews and the frame."""
    with page.expect_console_message(lambda message: message.text.startswith(SENDING)):
        page.goto(top + "/index.html")
    first = collector.wait_for_count(1, "PageView")[0]
    collector.wait_for_count(1, "Purchase")
    frame = page.frames[1]
    frame.click("#next")
    second = collector.wait_for_count(2, "PageView")[1]
    return first, second, page.frames[1]


def test_a_cross_site_frame_keeps_its_session_in_the_tab_without_a_cookie(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser: Browser
) -> None:
    """Third-party storage allowed (Chrome's default profile): sessionStorage, partitioned."""
    landing, top = _embed(tmp_path, collector, serve_dir)
    # A profile of its own that allows third-party cookies and storage, as Chrome does by
    # default (Playwright's contexts block them, like an incognito window: the test below).
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    preferences = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = browser.browser_type.launch_persistent_context(
        profile,
        executable_path=shutil.which("chromium") or "/usr/bin/chromium",
        args=CHROMIUM_ARGS,
        headless=True,
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        errors = watch_errors(page)
        first, second, frame = _frame_visit(page, collector, top)
        # One session for the frame's pages, kept in its (partitioned) sessionStorage; no
        # cookie.
        assert second["session_id"] == first["session_id"]
        assert second["event_data"]["url"] == landing + "/second.html"
        in_frame = stored(frame, context)
        assert in_frame["cookies"] == {}
        assert in_frame["sessionStorage"]["_aae_sid"] == first["session_id"]

        # The landing site opened on its own: its first-party cookie session, another one.
        alone = context.new_page()
        open_page(alone, landing + "/index.html", SENDING)
        own = collector.wait_for_count(3, "PageView")[2]
        assert own["session_id"] != first["session_id"]
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["_aae_sid"]["value"] == own["session_id"]
        assert cookies["_aae_sid"]["domain"] == "127.0.0.1"
        assert stored(alone, context)["sessionStorage"] == {}
        assert errors == []
    finally:
        context.close()


def test_a_cross_site_frame_without_third_party_storage_keeps_the_id_in_memory(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    """Third-party cookies and storage blocked (incognito, Playwright's contexts, Brave): the
    frame stores nothing and each of its pages is a session of its own."""
    page, context = browser_page.page, browser_page.context
    _landing, top = _embed(tmp_path, collector, serve_dir)
    first, second, frame = _frame_visit(page, collector, top)
    assert second["session_id"] != first["session_id"]
    assert context.cookies() == []
    assert (
        frame.evaluate("""() => {
        try { return sessionStorage.length; } catch (error) { return error.name; }
    }""")
        == "SecurityError"
    )
    assert browser_page.errors == []


#: Reports, from inside the frame, whether the frame sees a session cookie and a sessionStorage
#: copy (the engines' drivers cannot read a cross-origin frame): a custom event.
PROBE = """<script>setTimeout(function () {
  var tab;
  try { tab = sessionStorage.getItem("_aae_sid") ? "yes" : "no"; }
  catch (error) { tab = "blocked"; }
  AAE_TRACKING.track("Probe", {cookie: /_aae_sid=/.test(document.cookie) ? "yes" : "no", tab: tab});
}, 1500)</script>"""


def test_firefox_keeps_the_session_of_a_cross_site_frame_in_the_tab(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve
) -> None:
    from tests.engines.firefox import FirefoxEngine

    # Firefox under WebDriver reports navigator.webdriver: the site tracks automation.
    settings = config(collector, track_automation=True)
    landing = serve_dir(write_site(tmp_path / "site", settings, head=PROBE))
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "index.html").write_text(TOP.format(src=landing + "/index.html"))
    top = serve_dir(tmp_path / "top").replace("127.0.0.1", "localhost")
    try:
        firefox = FirefoxEngine()
    except EngineError as exc:
        pytest.fail(f"firefox: {exc}", pytrace=False)
    with firefox:
        for visit in (1, 2):  # the embedding page, then again in the same tab
            firefox.goto(top + "/index.html")
            collector.wait_for_count(visit, "Probe")
        assert firefox.native_errors() == []
    probes = [e for e in collector.events if e["event_type"] == "Probe"]
    views = [e for e in collector.events if e["event_type"] == "PageView"]
    assert [(p["event_data"]["cookie"], p["event_data"]["tab"]) for p in probes] == [
        ("no", "yes")
    ] * 2
    assert len({event["session_id"] for event in views + probes}) == 1
