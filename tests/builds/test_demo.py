"""`make demo` end to end: both sites built, served, visited in Chromium, events printed."""

from __future__ import annotations

import subprocess
import sys

from aae_tracking_plugins.collector.storage import FunnelQuery, open_store
from tests.sites import ROOT


def test_demo_builds_serves_and_shows_events() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/demo.py", "--visit-and-exit", "--collector-port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A resend of an event whose first send was not confirmed (a page left while it was in
    # flight) is printed with "(duplicate, not stored)": count each event once.
    lines = [line for line in result.stdout.splitlines() if "(duplicate, not stored)" not in line]
    for site_port_line in [line for line in lines if line.startswith(("  mkdocs", "  pelican"))]:
        url = site_port_line.split()[1].rstrip("/")
        page_views = [line for line in lines if "PageView" in line and f"url={url}/" in line]
        assert page_views, f"no PageView from {url}"
    # Both sites' thank-you pages share ORD-1001 and landing page id: the second is a duplicate.
    assert sum("Purchase" in line and "order_id=ORD-1001" in line for line in lines) == 1
    assert any("AddToCart" in line and "button_id=sticky-cta" in line for line in lines)
    assert not any("button_id=newsletter" in line for line in lines)
    # The tracking plan's Lead and the declarative FAQ event, once per site.
    assert sum("Lead" in line and "source=landing" in line for line in lines) == 2
    assert sum("faq_open" in line and "question=delivery" in line for line in lines) == 2
    assert "0 rejected" in result.stdout
    # The stored collector: its dashboard's URL printed, the funnel read back from the SQLite file.
    assert any(line.startswith("  dashboard http://127.0.0.1:") for line in lines)
    with open_store(f"sqlite:///{ROOT / 'build' / 'demo-events.db'}") as store:
        funnel = store.funnel(FunnelQuery(landing_page_id="lp_spring_desk"))
    assert sum(row.page_views for row in funnel) == 4  # two sessions, two campaigns each
    assert sum(row.purchases for row in funnel) == 1  # ORD-1001 stored once
    assert "lp_spring_desk  camp_spring_2026" in result.stdout  # the report's table
