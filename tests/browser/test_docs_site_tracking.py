"""The documentation site tracks itself (mkdocs.yml, docs/contributing.md): a page of the strictly
built docs, opened in real Chromium, sends its PageView to a real ``aae-tracking collect``, which
stores it and prints its line; a click on to another page of the docs sends the next one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.collector_helpers import CollectorProcess, listing
from tests.conftest import BrowserPage
from tests.docs_site import build_docs
from tests.sites import ROOT


def stored_pageviews(url: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The docs' PageViews the collector at ``url`` stored, oldest first, once there are
    ``count`` (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = listing(url, "?landing_page_id=lp_docs&event_type=PageView")
        assert answer.status == 200, answer
        events = [item["event"] for item in reversed(json.loads(answer.body))]
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, events
            return events
        time.sleep(0.2)


def test_a_docs_page_reports_its_pageview_to_the_collector(
    tmp_path: Path,
    serve_dir: Callable[[Path], str],
    browser_page: BrowserPage,
) -> None:
    with CollectorProcess("--database", f"sqlite:///{tmp_path / 'docs.db'}") as collector:
        site, _ = build_docs(ROOT, tmp_path / "site", api=collector.url)
        base = serve_dir(site)
        page = browser_page.page
        response = page.goto(f"{base}/getting-started/")
        assert response is not None
        assert response.status == 200

        (first,) = stored_pageviews(collector.url, 1)
        assert first["landing_page_id"] == "lp_docs"
        assert first["campaign_id"] == "camp_docs"
        assert first["event_data"]["url"] == f"{base}/getting-started/"

        # On to the generated options reference through the page's own link.
        page.click("article a[href='../reference/options/']")
        page.wait_for_url(f"{base}/reference/options/")
        second = stored_pageviews(collector.url, 2)[1]
        assert second["event_data"]["url"] == f"{base}/reference/options/"
        assert second["session_id"] == first["session_id"]  # one visit, one session

        status, printed, errors = collector.stop()
    assert status == 0, errors
    lines = [line for line in printed.splitlines() if " PageView " in line]
    assert len(lines) == 2, printed
    assert "lp_docs / camp_docs" in lines[0]
    assert f"url={base}/getting-started/" in lines[0]
    assert browser_page.errors == []
