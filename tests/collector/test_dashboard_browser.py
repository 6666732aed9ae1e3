"""The dashboard in real Chromium against a real collector on SQLite: it shows what was sent,
takes new events without a reload, shows untrusted event data as text, runs under its strict
CSP without a violation (a violation is a console error, so ``errors == []`` checks it), takes
the read token from ``?token=`` into a cookie, and keeps looking the same (a screenshot
compared with tests/collector/screenshots/dashboard.png).

Regenerate the screenshot's baseline after a deliberate change of the page's look:
``AAE_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/collector/test_dashboard_browser.py``
(the test then writes the PNG and skips), and look at the new PNG before committing it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.dashboard import TOKEN_COOKIE
from tests.collector.dashboard_helpers import (
    differing_pixels,
    expected_table,
    funnel_table,
    seed,
)
from tests.collector_helpers import CollectorProcess, post, running_collector
from tests.conftest import BrowserPage
from tests.events import make_event

BASELINE = Path(__file__).parent / "screenshots" / "dashboard.png"
UPDATE = os.environ.get("AAE_UPDATE_SCREENSHOTS") == "1"
#: At most this share of the screenshot's pixels may differ from the baseline.
TOLERANCE = 0.001
VIEWPORT = {"width": 1280, "height": 900}


def live(browser_page: BrowserPage, url: str) -> None:
    """Open the dashboard and wait until its script has polled once (``data-state=live``)."""
    browser_page.page.goto(url)
    browser_page.page.wait_for_selector("#live[data-state='live']")


def leave(browser_page: BrowserPage) -> None:
    """Leave the dashboard before its collector stops: a poll to a stopped collector is a
    console error (connection refused)."""
    browser_page.page.goto("about:blank")


def cell(browser_page: BrowserPage, page_id: str, field: str) -> str:
    selector = f"tr.funnel-row[data-landing-page-id='{page_id}'] td[data-field='{field}']"
    return str(browser_page.page.text_content(selector))


def test_the_page_shows_what_was_sent(browser_page: BrowserPage, tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        seed(collector.service.store)
        live(browser_page, collector.url + "/")
        assert funnel_table(browser_page.page.content()) == expected_table()
        chart = browser_page.page.get_attribute(
            "tr.funnel-row[data-variant='a'] svg.chart", "aria-label"
        )
        assert chart == "PageView 5, AddToCart 3, Purchase 1"
        widths = browser_page.page.eval_on_selector_all(
            "tr.funnel-row[data-variant='a'] rect.bar", "bars => bars.map(b => b.getBBox().width)"
        )
        assert widths == [200, 120, 40]  # 5, 3 and 1 of 5 sessions on a 200 px scale
        assert browser_page.page.locator("tr.event-row").count() == 21
        leave(browser_page)
    assert browser_page.errors == []


def test_events_sent_while_the_page_is_open_appear_without_a_reload(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        live(browser_page, collector.url + "/")
        assert browser_page.page.locator("tr.funnel-row").count() == 0
        browser_page.page.evaluate("window.__kept = 42")  # gone if the page reloaded
        common = {"landing_page_id": "lp_live", "session_id": "sess_1732960800000_live000001"}
        sent = time.monotonic()
        for kind in ("PageView", "AddToCart", "Purchase"):
            assert post(collector.url, make_event(kind, **common)).status == 200
        browser_page.page.wait_for_function(
            """() => {
              const cell = document.querySelector(
                "tr.funnel-row[data-landing-page-id='lp_live'] td[data-field='purchases']");
              return cell !== null && cell.textContent === "1";
            }"""
        )
        delay = time.monotonic() - sent
        assert cell(browser_page, "lp_live", "overall_rate") == "100.0 %"
        assert cell(browser_page, "lp_live", "revenue") == "EUR 49.99"
        assert browser_page.page.evaluate("window.__kept") == 42
        rows = browser_page.page.locator("tr.event-row td:nth-child(2)").all_text_contents()
        assert rows == ["Purchase", "AddToCart", "PageView"]
        leave(browser_page)
    print(f"dashboard: events visible {delay:.2f} s after they were sent")
    assert delay < 5  # one polling interval (1 s) and a render, with room for a loaded machine
    assert browser_page.errors == []


def test_a_script_in_a_custom_event_is_shown_as_text(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    payload = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"
    lead = make_event("PageView", event_type="Lead")
    lead["event_data"] = {"url": "https://shop.example/", "timestamp": lead["timestamp"]}
    lead["event_data"]["note"] = payload
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        live(browser_page, collector.url + "/")
        assert post(collector.url, lead).status == 200  # arrives through the live update
        details = browser_page.page.locator("tr.event-row td.details")
        details.first.wait_for()
        assert details.first.text_content() == f"url=https://shop.example/  note={payload}"
        browser_page.page.reload()  # and in the page as served
        browser_page.page.wait_for_selector("#live[data-state='live']")
        assert details.first.text_content() == f"url=https://shop.example/  note={payload}"
        assert browser_page.page.locator("#panels script, #panels img").count() == 0
        assert browser_page.page.evaluate("window.__pwned") is None
        leave(browser_page)
    assert browser_page.errors == []


def test_the_read_token_goes_from_the_url_into_a_cookie(
    browser_page: BrowserPage, tmp_path: Path
) -> None:
    """``aae-tracking collect`` with AAE_COLLECTOR_READ_TOKEN: the page once with ?token=,
    then the address bar without it, the cookie out of the page's reach, live updates on."""
    database = f"sqlite:///{tmp_path / 'e.db'}"
    with CollectorProcess(
        "--database", database, env={"AAE_COLLECTOR_READ_TOKEN": "s3cret"}
    ) as collector:
        page = browser_page.page
        answer = page.goto(collector.url + "/")
        assert answer is not None
        assert answer.status == 401
        live(browser_page, collector.url + "/?token=s3cret")
        assert page.url == collector.url + "/"
        (cookie,) = browser_page.context.cookies()
        assert (cookie["name"], cookie["value"]) == (TOKEN_COOKIE, "s3cret")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie") == ""
        assert post(collector.url, make_event("Purchase")).status == 200
        page.wait_for_selector("tr.funnel-row[data-landing-page-id='lp_123']")
        leave(browser_page)
        collector.stop()
    # The 401 page load is the only error Chromium reports.
    assert [error for error in browser_page.errors if "401" not in error] == []


def test_the_page_looks_as_it_did(browser_page: BrowserPage, tmp_path: Path) -> None:
    """A fixed viewport and fixed data (arrival times included): the screenshot matches the
    committed baseline within :data:`TOLERANCE`."""
    browser_page.page.set_viewport_size(VIEWPORT)
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}") as collector:
        seed(collector.service.store)
        live(browser_page, collector.url + "/")
        actual = browser_page.page.screenshot(full_page=True, animations="disabled")
        leave(browser_page)
    if UPDATE:
        BASELINE.parent.mkdir(exist_ok=True)
        BASELINE.write_bytes(actual)
        pytest.skip(f"baseline written to {BASELINE}: look at it, then commit it")
    blank = browser_page.context.new_page()
    result = differing_pixels(blank, actual, BASELINE.read_bytes())
    saved = tmp_path / "dashboard-actual.png"
    saved.write_bytes(actual)
    assert result["differing"] >= 0, f"size {result['size']}; this run's screenshot: {saved}"
    share = result["differing"] / result["total"]
    assert share <= TOLERANCE, (
        f"{result['differing']} of {result['total']} pixels differ from {BASELINE.name}; "
        f"this run's screenshot: {saved} (AAE_UPDATE_SCREENSHOTS=1 regenerates the baseline)"
    )
    assert browser_page.errors == []
