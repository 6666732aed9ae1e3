"""A real consent manager gates the tracker: vanilla-cookieconsent 3 (npm, served from the test
site) in real Chromium, set up as docs/consent.md's recipe says (``consent_manager:
vanilla-cookieconsent``, ``consent: opt-out``, the manager's callbacks calling
``AAE_TRACKING.consent``).

- Before the visitor chooses, the tracker tag is ``type="text/plain"``, it never runs, nothing
  reaches the collector and nothing of ours is stored; accepting "analytics" makes the manager
  insert a running copy, and the PageView arrives; rejecting sends nothing, now or on the next
  page; the next page after accepting sends at once.
- Revoking on the page where the tracker runs stops it there (the callback's
  ``consent(false)``), and the next page keeps it gated.
- Under a strict Content-Security-Policy, gated tags work in both modes: external files
  (``inline_script: false``, ``script-src 'self'``) and inline scripts allowed by the hashes
  ``aae-tracking csp-hashes`` prints (the manager's copy has the same text).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes
from tests.consent_helpers import SENDING, leave, stored, watch
from tests.consent_manager_site import ACCEPT, REJECT, write_site
from tests.static_server import StaticServer, StaticSiteHandler

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]
TRACKER = "script[data-aae-tracking=tracker]"
#: CSP violations the page reports, collected before any script of the page runs.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def config(collector: EventCollector, **settings: object) -> TrackingConfig:
    return TrackingConfig(
        "lp_cmp",
        collector.url,
        consent_manager="vanilla-cookieconsent",
        debug=True,
        engagement=False,  # one event less to account for
        **settings,  # type: ignore[arg-type]
    )


def ours(page: Page, context: object) -> dict[str, object]:
    """What the tracker stored: our cookie and storage keys only (the manager has its own)."""
    found = stored(page, context)  # type: ignore[arg-type]
    return {
        place: {key: value for key, value in values.items() if "aae" in key}
        for place, values in found.items()
    }


NOTHING_OF_OURS = {"cookies": {}, "localStorage": {}, "sessionStorage": {}}


def wait_unchosen(page: Page) -> None:
    """The page has loaded, the manager shows its dialog, and the tracker had every chance to
    start (it starts within 1 s of the load when it runs); then the page is 'left'."""
    page.wait_for_selector(ACCEPT, state="visible")
    page.wait_for_timeout(1200)
    leave(page)


def test_nothing_before_the_choice_then_accepting_sends_the_pageview(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent="opt-out")))
    page.goto(site + "/index.html")
    wait_unchosen(page)

    assert page.get_attribute(TRACKER, "type") == "text/plain"
    assert page.evaluate("window.AAE_TRACKING.loaded") is None  # the stub only
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    assert ours(page, context) == NOTHING_OF_OURS

    with page.expect_console_message(lambda message: message.text.startswith(SENDING)):
        page.click(ACCEPT)
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["landing_page_id"] == "lp_cmp"
    assert page.get_attribute(TRACKER, "type") is None  # the manager's running copy
    assert page.evaluate("window.AAE_TRACKING.loaded") is True
    after = ours(page, context)
    assert after["cookies"] == {"_aae_sid": view["session_id"]}
    assert after["localStorage"] == {"aae_consent": True}  # the callback's consent(true)

    # The next page: the manager runs the tracker at once from the stored choice.
    page.goto(site + "/second.html")
    second = collector.wait_for_count(2, "PageView")[1]
    assert second["session_id"] == view["session_id"]
    assert page.is_hidden(ACCEPT)
    assert browser_page.errors == []


def test_rejecting_sends_nothing_now_or_on_the_next_page(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent="opt-out")))
    page.goto(site + "/index.html")
    page.click(REJECT)
    page.click("#buy")
    page.wait_for_timeout(1200)
    leave(page)
    assert page.get_attribute(TRACKER, "type") == "text/plain"

    page.goto(site + "/second.html")
    page.wait_for_load_state("load")
    page.wait_for_timeout(1200)
    leave(page)
    assert page.is_hidden(ACCEPT)  # the choice is stored (by the manager)
    assert page.get_attribute(TRACKER, "type") == "text/plain"
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    assert ours(page, context) == NOTHING_OF_OURS
    assert browser_page.errors == []


def test_revoking_stops_the_running_tracker_and_the_next_page_stays_gated(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    site = serve_dir(write_site(tmp_path / "site", config(collector, consent="opt-out")))
    page.goto(site + "/index.html")
    page.click(ACCEPT)
    view = collector.wait_for_count(1, "PageView")[0]

    # The visitor changes their mind in the manager's preferences: analytics off.
    page.evaluate("CookieConsent.acceptCategory([])")
    page.click("#buy")
    page.wait_for_timeout(700)
    leave(page)
    assert [event["event_type"] for event in collector.events] == ["PageView"]
    assert ours(page, context) == {
        "cookies": {},  # the session cookie forgotten with the refusal
        "localStorage": {"aae_consent": False},
        "sessionStorage": {},
    }

    page.goto(site + "/second.html")
    page.wait_for_load_state("load")
    page.wait_for_timeout(1200)
    leave(page)
    assert page.get_attribute(TRACKER, "type") == "text/plain"
    assert [event["event_id"] for event in collector.events] == [view["event_id"]]
    assert browser_page.errors == []


class _CspHandler(StaticSiteHandler):
    policy = ""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.policy)
        super().end_headers()


@pytest.fixture
def serve_with_policy() -> Iterator[Callable[[Path, str], str]]:
    servers: list[StaticServer] = []

    def serve(directory: Path, policy: str) -> str:
        handler = type("Handler", (_CspHandler,), {"policy": policy})
        server = StaticServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.stop()


@pytest.mark.parametrize("inline", [False, True], ids=["external-files", "inline-hashes"])
def test_gated_tags_work_under_a_strict_content_security_policy(
    inline: bool,
    tmp_path: Path,
    collector: EventCollector,
    browser_page: BrowserPage,
    serve_with_policy: Callable[[Path, str], str],
) -> None:
    # consent: none (the default): the manager alone decides whether the tracker runs.
    settings = config(collector, inline_script=inline)
    hashes = " ".join(source for _script, source in csp_hashes(settings)) if inline else ""
    site = serve_with_policy(write_site(tmp_path / "site", settings), f"script-src 'self' {hashes}")
    page = browser_page.page
    page.add_init_script(WATCH_CSP)
    page.goto(site + "/index.html")
    wait_unchosen(page)
    assert collector.attempts == []

    page.click(ACCEPT)
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["landing_page_id"] == "lp_cmp"
    copy = page.eval_on_selector(TRACKER, "s => [s.type, s.src, s.integrity, s.text.length]")
    if inline:
        assert copy[:3] == ["", "", ""]
        assert copy[3] > 1000
    else:
        assert copy[0] == ""
        assert "/aae-tracking/tracker." in copy[1]
        assert copy[2].startswith("sha384-")
        assert copy[3] == 0
    page.click("#buy")
    collector.wait_for_count(1, "AddToCart")
    assert page.evaluate("window.__csp") == []
    assert browser_page.errors == []
