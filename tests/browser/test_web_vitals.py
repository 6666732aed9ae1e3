"""Web Vitals in real Chromium against the real collector (docs/web-vitals.md).

Sites with ``web_vitals: true`` get the ``.vitals`` build, which sends one ``WebVitals`` event
per page load when the page is first hidden or left: LCP, CLS, INP, FCP and TTFB with Google's
rating of each, only the metrics the browser measured. The test page has what each metric needs:
an image (LCP), a banner inserted after load that pushes the content down (CLS), and a button
whose handler blocks the main thread for 250 ms (INP). It also watches the same browser data
with its own simple ``PerformanceObserver`` code, so each value is checked against what Chromium
reported, not only its shape. Other builds carry no Web Vitals code at all.
"""

from __future__ import annotations

import math
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core import tags as snippet
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import browser_script, render_snippet
from tests.sites import one_page_builds

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]
QUIET_MS = 400  # "nothing else arrives" after a barrier event arrived
METRICS = ("lcp", "cls", "inp", "fcp", "ttfb")
# Google's thresholds (https://web.dev/articles/vitals): good up to the first, poor above the
# second.
THRESHOLDS = {
    "lcp": (2500, 4000),
    "cls": (0.1, 0.25),
    "inp": (200, 500),
    "fcp": (1800, 3000),
    "ttfb": (800, 1800),
}

#: Watches in the page's <head> what the tracker measures, with the plainest code: the last LCP
#: entry, the sum of layout shifts (one burst here), the longest interaction.
WATCH = """<script>
  window.__seen = { lcp: 0, cls: 0, inp: 0 };
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) {
      __seen.lcp = e.startTime;
      __seen.lcpId = e.element && e.element.id;
    });
  }).observe({ type: "largest-contentful-paint", buffered: true });
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { if (!e.hadRecentInput) __seen.cls += e.value; });
  }).observe({ type: "layout-shift", buffered: true });
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) {
      if (e.interactionId) __seen.inp = Math.max(__seen.inp, e.duration);
    });
  }).observe({ type: "event", durationThreshold: 16, buffered: true });
</script>"""

PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Vitals</title>{WATCH}</head>
<body style="margin: 0">
<h1>Desk</h1>
<img id="hero" src="hero.png" width="600" height="300" alt="The desk">
<p>Made to last.</p>
<button id="slow">Compare</button>
<a id="next" href="/spa/next">Next</a>
<script>
  // A banner arrives after load and pushes everything down: a layout shift.
  addEventListener("load", function () {{
    setTimeout(function () {{
      var banner = document.createElement("div");
      banner.style.height = "120px";
      banner.textContent = "Spring sale";
      document.body.prepend(banner);
      requestAnimationFrame(function () {{
        setTimeout(function () {{ window.__shifted = 1; }}, 100);
      }});
    }}, 100);
  }});
  // A slow handler: the interaction takes over 250 ms to paint.
  document.getElementById("slow").addEventListener("click", function () {{
    var t = performance.now();
    while (performance.now() - t < 250) {{}}
  }});
  // A client-side navigation: a new page view, not a new page load.
  document.getElementById("next").addEventListener("click", function (e) {{
    e.preventDefault();
    history.pushState({{}}, "", "/spa/next");
  }});
</script>
</body></html>
"""


def _png(width: int, height: int) -> bytes:
    """A plain RGB PNG (the LCP image)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\x00" + b"\xc0\x60\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def _site(root: Path, config: TrackingConfig) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(inject(PAGE, render_snippet(config)).html, "utf-8")
    (root / "hero.png").write_bytes(_png(600, 300))
    return root


def _rating(metric: str, value: float) -> str:
    good, poor = THRESHOLDS[metric]
    return "poor" if value > poor else "needs-improvement" if value > good else "good"


def _assert_rated(data: dict[str, Any]) -> None:
    for metric in METRICS:
        if metric in data:
            assert data[f"{metric}_rating"] == _rating(metric, data[metric]), metric
        else:
            assert f"{metric}_rating" not in data


def _js_round(value: float) -> int:
    """``Math.round``: halves go up (Python's ``round`` takes halves to the even neighbour)."""
    return math.floor(value + 0.5)


def _of_type(collector: EventCollector, event_type: str) -> list[Event]:
    return [e for e in collector.events if e["event_type"] == event_type]


def _seen(page: Page) -> dict[str, float]:
    """What the page's own observers and the timeline say, after the shift and the paint.

    The largest paint is the hero image's (600 x 300 px, far above the text's). Its entry may
    come after the text's, and after the shift on a slow machine: it is waited for, so the
    value read here is the final one the tracker reports, not the text's earlier candidate."""
    page.wait_for_function("window.__shifted && __seen.lcpId === 'hero'")
    seen: dict[str, float] = page.evaluate(
        """() => Object.assign({}, __seen, {
          fcp: performance.getEntriesByName("first-contentful-paint")[0].startTime,
          ttfb: performance.getEntriesByType("navigation")[0].responseStart,
        })"""
    )
    return seen


def test_one_web_vitals_event_with_each_metric_and_its_rating(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig("lp_vitals", collector.url, "camp_vitals", web_vitals=True)
    url = serve_dir(_site(tmp_path / "site", config)) + "/index.html"
    page = browser_page.page
    page.goto(url)
    collector.wait_for_count(1, "PageView")
    page.wait_for_function("window.__shifted && __seen.lcpId === 'hero'")  # before any input
    page.click("#slow")
    page.wait_for_function("__seen.inp > 0")
    page.click("#next")  # a new page view: the page load's vitals still go once, with its url
    collector.wait_for_count(2, "PageView")
    seen = _seen(page)
    page.close(run_before_unload=True)
    (event,) = collector.wait_for_count(1, "WebVitals")
    time.sleep(QUIET_MS / 1000)  # nothing else arrives

    data = event["event_data"]
    assert data["url"] == url
    assert (event["landing_page_id"], event["campaign_id"]) == ("lp_vitals", "camp_vitals")
    assert [key for key in METRICS if key in data] == list(METRICS)
    for metric in ("lcp", "fcp", "ttfb", "inp"):
        assert isinstance(data[metric], int)
        assert data[metric] == _js_round(seen[metric]), metric
    assert abs(data["cls"] - seen["cls"]) < 0.00006  # rounded to 4 decimals
    assert data["cls"] > 0
    assert data["inp"] >= 250
    assert data["inp_rating"] == "needs-improvement"
    assert data["fcp"] <= data["lcp"]
    _assert_rated(data)
    assert len(_of_type(collector, "WebVitals")) == 1
    assert browser_page.errors == []


def test_sent_when_first_hidden_without_inp_before_any_interaction_and_only_once(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    tabs: tuple[BrowserContext, list[str]],
) -> None:
    context, errors = tabs
    # ?again names the second page load: a query key the sent URLs keep (query_params).
    config = TrackingConfig("lp_vitals", collector.url, web_vitals=True, query_params=["again"])
    url = serve_dir(_site(tmp_path / "site", config)) + "/index.html"
    page = context.pages[0]
    page.goto(url)
    collector.wait_for_count(1, "PageView")
    seen = _seen(page)
    other = context.new_page()  # the first tab is hidden now: its vitals go
    (event,) = collector.wait_for_count(1, "WebVitals")
    data = event["event_data"]
    assert "inp" not in data  # no interaction yet
    assert [key for key in METRICS if key in data] == ["lcp", "cls", "fcp", "ttfb"]
    assert data["lcp"] == _js_round(seen["lcp"])
    _assert_rated(data)

    # Shown again, an interaction, hidden again, closed: nothing more for this page load.
    page.bring_to_front()
    page.click("#slow")
    page.wait_for_function("__seen.inp > 0")
    other.bring_to_front()
    page.close(run_before_unload=True)
    # Barrier: another page load in the other tab sends its own vitals when closed.
    other.goto(url + "?again")
    collector.wait_for_count(2, "PageView")
    other.close(run_before_unload=True)
    collector.wait_for_count(2, "WebVitals")
    time.sleep(QUIET_MS / 1000)  # nothing else arrives
    assert [e["event_data"]["url"] for e in _of_type(collector, "WebVitals")] == [
        url,
        url + "?again",
    ]
    assert errors == []


VITALS_CODE = ("PerformanceObserver", "largest-contentful-paint", "layout-shift", "interactionId")


def test_builds_without_web_vitals_carry_no_vitals_code(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    static = Path(snippet.__file__).parents[1] / "static"
    builds = sorted(path.name.removesuffix(".min.js") for path in static.glob("tracker*.min.js"))
    # Every flag combination (tracker[.batch][.pixel][.vitals]..., scripts/build_js.mjs).
    assert {"tracker", "tracker.vitals"} <= set(builds)
    assert len(builds) >= 8
    for name in builds:
        text = str(browser_script(name))
        present = [needle for needle in VITALS_CODE if needle in text]
        assert present == (list(VITALS_CODE) if ".vitals" in name else []), name
    assert "data-web-vitals" not in render_snippet(TrackingConfig("lp_1", collector.url)).body

    # And at run time: a default page sends its Engagement on leaving, no WebVitals.
    url = serve_dir(_site(tmp_path / "site", TrackingConfig("lp_1", collector.url))) + "/"
    page = browser_page.page
    page.goto(url + "index.html")
    page.click("#slow")
    page.wait_for_function("performance.now() > 1500")
    page.close(run_before_unload=True)
    collector.wait_for_count(1, "Engagement")
    time.sleep(QUIET_MS / 1000)
    assert _of_type(collector, "WebVitals") == []
    assert browser_page.errors == []


# --------------------------------------------------------------------------- real builds

SLOW_BUTTON = (
    '<button id="slow" onclick="var t = performance.now(); '
    'while (performance.now() - t < 250) {}">Compare</button>\n'
)


@pytest.mark.parametrize(
    "build",
    one_page_builds(
        lambda api: {"landing_page_id": "lp_vitals", "api_base_url": api, "web_vitals": True},
        SLOW_BUTTON,
    ),
)
def test_real_builds_deliver_web_vitals_and_engagement(
    build: Callable[[Path, str], tuple[Path, str]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site, path = build(tmp_path, collector.url)
    assert "data-web-vitals" in (site / path.lstrip("/")).read_text("utf-8")
    url = serve_dir(site) + path
    page = browser_page.page
    page.goto(url)
    collector.wait_for_count(1, "PageView")
    page.click("#slow")
    page.wait_for_function("performance.now() > 1500")  # over a second engaged
    page.close(run_before_unload=True)
    (vitals,) = collector.wait_for_count(1, "WebVitals")
    (engagement,) = collector.wait_for_count(1, "Engagement")
    assert vitals["event_data"]["url"] == engagement["event_data"]["url"] == url
    assert {"lcp", "cls", "inp", "fcp", "ttfb"} <= set(vitals["event_data"])
    assert vitals["event_data"]["inp"] >= 250
    _assert_rated(vitals["event_data"])
    assert engagement["event_data"]["engaged_ms"] >= 1000
    assert browser_page.errors == []
