"""`make demo` end to end: both sites built, served, visited in Chromium, events printed."""

from __future__ import annotations

import subprocess
import sys

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
