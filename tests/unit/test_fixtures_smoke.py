"""The shared fixtures work together: a served page beacons an event to the collector."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from aae_tracking_plugins.collector import validate_event

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Smoke</title></head>
<body>
<h1>Smoke</h1>
<script>
  const COLLECTOR_EVENTS_URL = __EVENTS_URL__;
  const now = new Date().toISOString();
  const event = {
    event_type: "PageView",
    event_id: "smoke-" + Date.now(),
    landing_page_id: "lp_smoke",
    campaign_id: "camp_456",
    session_id: "sess_" + Date.now() + "_abc123def4",
    event_data: {url: location.href, referrer: document.referrer, timestamp: now},
    user_agent: navigator.userAgent,
    screen_resolution: screen.width + "x" + screen.height,
    timestamp: now,
  };
  window.beaconQueued = navigator.sendBeacon(COLLECTOR_EVENTS_URL, JSON.stringify(event));
</script>
</body>
</html>
"""


@pytest.mark.browser
def test_page_beacon_reaches_collector(tmp_path: Path, collector, serve_dir, browser_page) -> None:
    (tmp_path / "index.html").write_text(
        PAGE.replace("__EVENTS_URL__", json.dumps(collector.events_url)), encoding="utf-8"
    )
    base_url = serve_dir(tmp_path)
    page = browser_page.page

    page.goto(base_url + "/")
    assert page.evaluate("window.beaconQueued") is True

    [event] = collector.wait_for_count(1, timeout=15)
    assert validate_event(event) == []
    assert event["event_type"] == "PageView"
    assert event["landing_page_id"] == "lp_smoke"
    assert event["campaign_id"] == "camp_456"
    assert event["event_data"]["url"] == base_url + "/"
    assert event["event_data"]["referrer"] == ""
    assert event["user_agent"] == page.evaluate("navigator.userAgent")
    assert event["screen_resolution"] == page.evaluate("screen.width + 'x' + screen.height")
    assert collector.rejected == []
    assert browser_page.errors == []


@pytest.mark.browser
def test_browser_page_records_page_errors(tmp_path: Path, serve_dir, browser_page) -> None:
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>x</title>"
        "<script>console.error('bad thing'); console.log('fine');</script>"
        "<script>throw new Error('boom');</script>",
        encoding="utf-8",
    )
    base_url = serve_dir(tmp_path)
    browser_page.page.goto(base_url + "/")
    browser_page.page.wait_for_load_state("load")
    # The page's errors reach the test a little after the load (Playwright hands events over
    # while the test is inside one of its calls): wait for them, not a fixed 300 ms.
    deadline = time.monotonic() + 10
    while len(browser_page.errors) < 2 and time.monotonic() < deadline:
        browser_page.page.wait_for_timeout(50)
    # the automatic /favicon.ico request 404s here; it must not be reported
    browser_page.page.wait_for_timeout(300)
    assert len(browser_page.errors) == 2, browser_page.errors
    assert browser_page.errors[0].startswith("console.error: bad thing")
    assert browser_page.errors[1].startswith("pageerror: ")
    assert "boom" in browser_page.errors[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def test_serve_dir_index_and_404_page(tmp_path: Path, serve_dir) -> None:
    (tmp_path / "index.html").write_text("home", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("docs home", encoding="utf-8")
    (tmp_path / "404.html").write_text("custom not found", encoding="utf-8")
    base_url = serve_dir(tmp_path)

    assert _get(base_url + "/") == (200, "home")
    assert _get(base_url + "/docs/") == (200, "docs home")
    assert _get(base_url + "/docs") == (200, "docs home")  # redirected to /docs/
    assert _get(base_url + "/nope.html") == (404, "custom not found")


def test_serve_dir_without_404_page(tmp_path: Path, serve_dir) -> None:
    (tmp_path / "a.txt").write_text("A", encoding="utf-8")
    base_url = serve_dir(tmp_path)
    other_url = serve_dir(tmp_path)
    assert base_url != other_url
    assert _get(other_url + "/a.txt") == (200, "A")
    status, _ = _get(base_url + "/missing")
    assert status == 404
