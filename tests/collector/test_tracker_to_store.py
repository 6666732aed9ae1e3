"""The whole pipeline for real: a visitor's funnel on each built sample site (MkDocs, Pelican) in
Chromium, with the tracker sending to the stored collector (uvicorn, SQLite and PostgreSQL);
then what is stored, once each, and the funnel that ``aae-tracking report`` prints from it.

The other browser tests send to the in-memory development collector (it can drop connections
on purpose); this one proves the same tracker against the collector a team runs. Firefox and
WebKitGTK do the same against it in tests/browser/test_engines.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.collector.test_report_command import run
from tests.collector_helpers import listing, running_collector
from tests.conftest import BrowserPage
from tests.sites import MKDOCS_SITE, PELICAN_SITE, build_mkdocs, build_pelican

pytestmark = pytest.mark.browser

#: generator -> (landing page, offer page, thank-you page) paths of the built sample site.
PAGES = {
    "mkdocs": ("/", "/offer/", "/thank-you/"),
    "pelican": ("/launch.html", "/pages/offer.html", "/pages/thank-you.html"),
}
FUNNEL = ["PageView", "AddToCart", "PageView", "AddToCart", "PageView", "Purchase"]


def stored(url: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The stored events of the sample sites other than Engagement, oldest first, once there
    are ``count`` of them (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = listing(url, "?landing_page_id=lp_spring_desk&limit=1000")
        assert answer.status == 200, answer
        events = [
            item
            for item in reversed(json.loads(answer.body))
            if item["event"]["event_type"] != "Engagement"
        ]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


@pytest.mark.parametrize("generator", ["mkdocs", "pelican"])
def test_a_visitors_funnel_is_stored_once_and_reported(
    generator: str,
    database_url: str,
    tmp_path: Path,
    serve_dir: Callable[[Path], str],
    browser_page: BrowserPage,
) -> None:
    with running_collector(database_url) as collector:
        build = build_mkdocs if generator == "mkdocs" else build_pelican
        source = MKDOCS_SITE if generator == "mkdocs" else PELICAN_SITE
        result = build(source, tmp_path / "site", collector.url)
        assert result.returncode == 0, result.stderr
        base = serve_dir(tmp_path / "site")
        landing, offer, thank_you = (base + path for path in PAGES[generator])
        page = browser_page.page

        page.goto(landing)
        page.click("#hero-cta")  # an AddToCart, then on to the offer
        page.wait_for_url(offer)
        page.click("#buy-now")  # an AddToCart, then the thank-you page queues the Purchase
        page.wait_for_url(thank_you)
        items = stored(collector.url, len(FUNNEL))
        # The thank-you page again: a second PageView; its order, sent or not, is stored once
        # (a resent Purchase has the same event_id, purchase:<landing_page_id>:<order_id>).
        page.reload()
        items = stored(collector.url, len(FUNNEL) + 1)
        time.sleep(0.5)  # anything more (a retry stored twice) would arrive by now
        items = stored(collector.url, len(FUNNEL) + 1, timeout=0)
        lines = list(collector.lines)

    events = [item["event"] for item in items]
    assert sorted(e["event_type"] for e in events) == sorted([*FUNNEL, "PageView"])
    assert len({e["event_id"] for e in events}) == len(events)  # each stored once
    assert {e["session_id"] for e in events} == {events[0]["session_id"]}
    assert {item["origin"] for item in items} == {"browser"}
    urls = [e["event_data"]["url"] for e in events if e["event_type"] == "PageView"]
    assert urls == [landing, offer, thank_you, thank_you]
    clicks = [e["event_data"]["button_id"] for e in events if e["event_type"] == "AddToCart"]
    assert clicks == ["hero-cta", "buy-now"]
    (purchase,) = [e for e in events if e["event_type"] == "Purchase"]
    assert purchase["event_id"] == "purchase:lp_spring_desk:ORD-1001"
    assert (purchase["event_data"]["value"], purchase["event_data"]["currency"]) == (399, "EUR")
    # Each stored event printed its line once. A resend (a click's AddToCart, kept for the
    # next page while its request was in flight) prints a "duplicate" line instead.
    fresh = [
        line.split()[1]
        for line in lines
        if not line.endswith("(duplicate, not stored)") and " Engagement " not in line
    ]
    assert sorted(fresh) == sorted(e["event_type"] for e in events)

    # The landing and thank-you pages carry the site's campaign, the offer page its own.
    report = run("--database", database_url, "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = {row["campaign_id"]: row for row in json.loads(report.stdout)}
    assert rows.keys() == {"camp_spring_2026", "camp_spring_offer"}
    counts = ("page_views", "add_to_carts", "purchases", "revenue")
    assert [rows["camp_spring_2026"][key] for key in counts] == [1, 1, 1, {"EUR": 399.0}]
    assert [rows["camp_spring_offer"][key] for key in counts] == [1, 1, 0, {}]
    assert browser_page.errors == []
