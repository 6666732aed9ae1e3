"""Engagement in real Chromium against the real collector: one event per page view with the time
the page was visible and the visitor active (``engaged_ms``) and the share of the page seen
(``scroll_depth``), sent when the page is hidden or left, or before the next PageView of a
client-side navigation (docs/engagement.md).

Hiding a page for real: Playwright keeps every page it drives visible (it turns Chromium's focus
emulation on for each page, and an emulated-focus tab counts as shown), so switching tabs under
its own launch changes nothing. The tests that hide a page (:func:`tabs`) start a headless
Chromium of their own with a DevTools port and attach with ``connect_over_cdp(...,
no_defaults=True)``: in that browser's default context focus emulation stays off, and opening or
fronting another tab hides the first one as a visitor switching tabs does
(``visibilitychange``, ``document.visibilityState == "hidden"``).

The test page keeps its own record of what the tracker reacts to (its start, every activity
event, every visibility change), read from the same clock at the same moment as the tracker
reads it (``performance.now()`` in a listener that runs just before the tracker's), so the
expected engaged time is computed from what really happened in the page, not from the test's
sleeps, and holds on a loaded machine: a late timer or a late input event moves the record and
the tracker alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_page_marker, render_snippet
from tests.sites import (
    SETTINGS_HEAD,
    build_instant_material_site,
    build_pelican,
    wait_until_instant_ready,
    write_pelican_site,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Request

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]
IDLE_MS = 5000  # the documented rule: activity keeps the count going for 5 s
QUIET_MS = 400  # "nothing else arrives" after a barrier event arrived
ACTIVITY = "mousedown mousemove keydown wheel touchstart scroll"
# A 0.4 s task of the page's own, starting as soon as the call returns.
LONG_TASK = (
    "setTimeout(() => { const end = performance.now() + 400; while (performance.now() < end); })"
)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 0 }} #filler {{ height: {height}px }}</style></head>
<body><h1>{title}</h1><div id="filler"></div>
<script>
  // What the tracker reacts to, when it reacts: its start (it is the next script), every
  // activity event and every visibility change, each read from performance.now() in a
  // listener that runs just before the tracker's (same target and phase, added first). Not
  // the event's timeStamp: for input that is when the browser received it, which on a busy
  // machine is 100-300 ms before the page's listeners run.
  window.__log = [["start", performance.now(), document.visibilityState]];
  "{activity}".split(" ").forEach(function (type) {{
    addEventListener(type, function () {{ __log.push(["act", performance.now()]); }},
      {{ capture: true, passive: true }});
  }});
  document.addEventListener("visibilitychange", function () {{
    __log.push([document.visibilityState, performance.now()]);
  }});
</script>
</body></html>
"""


def _page(title: str = "Desk", height: int = 0) -> str:
    return PAGE.format(title=title, height=height, activity=ACTIVITY)


def _site(root: Path, config: TrackingConfig, pages: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, html in pages.items():
        (root / name).write_text(inject(html, render_snippet(config)).html, "utf-8")
    return root


def _of_type(collector: EventCollector, event_type: str) -> list[Event]:
    return [e for e in collector.events if e["event_type"] == event_type]


def _engaged_for(page: Page, ms: int) -> None:
    """Wait until the tracker has counted ``ms``: the page was visible all along and its start
    counts as activity, so that is ``ms`` after the tracker started (at most 5 s)."""
    assert ms < IDLE_MS
    page.wait_for_function(f"performance.now() - __log[0][1] > {ms}")


def _frames(page: Page) -> None:
    """Two animation frames: a scroll's depth reading (one frame) has happened."""
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def _wiggle(page: Page, ms: int) -> None:
    """Mouse moves over ``ms`` milliseconds, one every 100 ms."""
    for step in range(max(1, ms // 100)):
        page.mouse.move(100 + step % 7 * 10, 100 + step % 5 * 10)
        page.wait_for_timeout(100)


def documented_engaged(log: list[list[Any]], end: float) -> float:
    """The rule of docs/engagement.md applied to the page's own record: time while the page is
    visible and less than 5 s after an activity (the start of a visible page and each return to
    it count as one), up to ``end``."""
    visible: list[tuple[float, float]] = []  # visible intervals
    windows: list[tuple[float, float]] = []  # 5 s after each activity
    shown = log[0][1] if log[0][2] == "visible" else None
    for entry in log:
        kind, at = entry[0], entry[1]
        if kind in ("start", "visible") and (kind == "visible" or shown is not None):
            shown = at
            windows.append((at, at + IDLE_MS))
        elif kind == "hidden" and shown is not None:
            visible.append((shown, at))
            shown = None
        elif kind == "act" and shown is not None:
            windows.append((at, at + IDLE_MS))
    if shown is not None:
        visible.append((shown, end))
    merged: list[list[float]] = []
    for start, stop in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return sum(
        max(0.0, min(stop, v_stop, end) - max(start, v_start))
        for start, stop in merged
        for v_start, v_stop in visible
    )


def _visible_ms(log: list[list[Any]], end: float) -> float:
    """How long the page was visible, by its own record, up to ``end`` (ms)."""
    total, shown = 0.0, log[0][1] if log[0][2] == "visible" else None
    for kind, at, *_ in log[1:]:
        if kind == "visible" and shown is None:
            shown = at
        elif kind == "hidden" and shown is not None:
            total, shown = total + at - shown, None
    return total + (end - shown if shown is not None else 0.0)


def _posted(requests: list[Request], collector: EventCollector) -> list[tuple[str, str]]:
    """``(event_type, event_data.url)`` of each event the page posted, in the order it sent them."""
    sent = []
    for request in requests:
        if request.method == "POST" and request.url == collector.events_url:
            body = json.loads(request.post_data or "{}")
            for event in body.get("events", [body]):
                sent.append((event["event_type"], event["event_data"].get("url", "")))
    return sent


def _visibility(page: Page) -> str:
    state: str = page.evaluate("document.visibilityState")
    return state


def test_hidden_and_idle_time_are_not_counted_and_one_event_per_page_view(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    tabs: tuple[BrowserContext, list[str]],
) -> None:
    context, errors = tabs
    # ?again names a second page view: a query key the sent URLs keep (query_params).
    config = TrackingConfig("lp_engaged", collector.url, query_params=["again"])
    url = serve_dir(_site(tmp_path / "site", config, {"index.html": _page()})) + "/index.html"
    page = context.pages[0]
    other = context.new_page()  # now in front: the first tab is hidden
    page.goto(url)  # loads in the background tab
    assert _visibility(page) == "hidden"
    collector.wait_for_count(1, "PageView")
    page.wait_for_timeout(800)  # 0.8 s in the background: never counted

    page.bring_to_front()
    page.mouse.move(100, 100)
    # Hidden again at once (0.1-0.5 s, by the page's record): under a second, nothing is sent
    # yet. (A 0.3 s wiggle here took over a second on a loaded machine: sent at this hide.)
    other.bring_to_front()
    assert _visibility(page) == "hidden"
    page.wait_for_timeout(800)  # hidden again: not counted

    page.bring_to_front()
    _wiggle(page, 400)
    page.wait_for_timeout(IDLE_MS + 800)  # no activity: only the first 5 s count
    # The page is busy (a 0.4 s task of its own) as the visitor moves again, as on a loaded
    # machine: the move is handled, and counted, when the page gets to it.
    page.evaluate(LONG_TASK)
    _wiggle(page, 300)
    other.bring_to_front()  # hidden with over a second: the Engagement goes now
    (event,) = collector.wait_for_count(1, "Engagement")
    log = page.evaluate("__log")

    hidden_at = [at for kind, at, *_ in log if kind == "hidden"]
    assert len(hidden_at) == 2
    expected = documented_engaged(log, hidden_at[-1])
    data = event["event_data"]
    assert data["url"] == url
    assert abs(data["engaged_ms"] - expected) < 100, (data["engaged_ms"], expected, log)
    # By construction: a moment + (0.4 s + 5 s of grace) + 0.3 s, of a page that lived ~9 s.
    # On a busy machine the wiggles take longer, so the upper bound comes from the page's own
    # record: of the time it was visible, the 0.8 s idled past the 5 s of grace are not counted.
    assert 5500 < data["engaged_ms"] < _visible_ms(log, hidden_at[-1]) - 700
    assert hidden_at[-1] - log[0][1] > data["engaged_ms"] + 2500
    assert data["scroll_depth"] == 100  # the page fits the window
    assert event["landing_page_id"] == "lp_engaged"

    # Back again, active, then the tab is closed: the page view already sent its Engagement.
    page.bring_to_front()
    _wiggle(page, 1200)
    page.close(run_before_unload=True)
    # Barrier: a new page view of the same site sends its PageView and, when left, its own
    # Engagement; the closed one's would have been sent before.
    other.goto(url + "?again")
    collector.wait_for(lambda events: any(e["event_data"]["url"] == url + "?again" for e in events))
    _engaged_for(other, 1100)
    other.close(run_before_unload=True)
    engagements = collector.wait_for_count(2, "Engagement")
    time.sleep(QUIET_MS / 1000)  # nothing else arrives
    assert [e["event_data"]["url"] for e in _of_type(collector, "Engagement")] == [
        url,
        url + "?again",
    ]
    assert engagements[1]["event_data"]["engaged_ms"] >= 1000
    assert errors == []


# --------------------------------------------------------------------------- single pages


def test_scroll_depth_is_the_largest_share_seen(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig("lp_scroll", collector.url)
    pages = {"tall.html": _page("Tall", 4000), "short.html": _page("Short")}
    base = serve_dir(_site(tmp_path / "site", config, pages))
    page = browser_page.page
    tall = base + "/tall.html"

    # Never scrolled: the first window's share. Left by a reload (a new page view).
    page.goto(tall)
    _engaged_for(page, 1100)
    first_window = page.evaluate(
        "Math.round(innerHeight / document.documentElement.scrollHeight * 100)"
    )
    page.reload()
    collector.wait_for_count(1, "Engagement")
    # Scrolled until half the page was seen, then back to the top: still 50.
    _engaged_for(page, 1100)
    page.evaluate("scrollTo(0, document.documentElement.scrollHeight / 2 - innerHeight)")
    _frames(page)
    page.mouse.wheel(0, -5000)
    page.wait_for_function("scrollY == 0")
    _frames(page)
    page.reload()
    collector.wait_for_count(2, "Engagement")
    # To the bottom, then the tab is closed.
    _engaged_for(page, 1100)
    page.mouse.wheel(0, 10_000)
    page.wait_for_function("scrollY + innerHeight >= document.documentElement.scrollHeight")
    _frames(page)
    page.close(run_before_unload=True)
    collector.wait_for_count(3, "Engagement")

    # A page shorter than the window: all of it was seen.
    short = browser_page.context.new_page()
    short.goto(base + "/short.html")
    _engaged_for(short, 1100)
    short.close(run_before_unload=True)
    engagements = collector.wait_for_count(4, "Engagement")
    assert 10 < first_window < 30
    assert [(e["event_data"]["url"], e["event_data"]["scroll_depth"]) for e in engagements] == [
        (tall, first_window),
        (tall, 50),
        (tall, 100),
        (base + "/short.html", 100),
    ]
    for event in engagements:
        assert 1000 <= event["event_data"]["engaged_ms"] < 4000
    assert browser_page.errors == []


def test_under_a_second_sends_nothing_and_leaving_for_another_site_sends_it(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    # ?quick and ?long name the two page views: query keys the sent URLs keep.
    config = TrackingConfig("lp_short", collector.url, query_params=["quick", "long"])
    base = serve_dir(_site(tmp_path / "site", config, {"index.html": _page()}))
    elsewhere = serve_dir(_site(tmp_path / "other", config, {"index.html": "<p>Elsewhere</p>"}))
    page = browser_page.page

    # Closed at once: the PageView goes (leaving starts the tracker), the Engagement does not.
    quick = browser_page.context.new_page()
    quick.goto(base + "/index.html?quick")
    assert quick.evaluate("performance.now() - __log[0][1]") < 900
    quick.close(run_before_unload=True)
    collector.wait_for(lambda events: any("?quick" in e["event_data"]["url"] for e in events))

    # Barrier and the second case: a page view left for another site (another origin).
    page.goto(base + "/index.html?long")
    _engaged_for(page, 1100)
    page.goto(elsewhere + "/index.html")
    (event,) = collector.wait_for_count(1, "Engagement")
    time.sleep(QUIET_MS / 1000)  # nothing else arrives
    assert event["event_data"]["url"] == base + "/index.html?long"
    assert 1000 <= event["event_data"]["engaged_ms"] < 4000
    assert [e["event_type"] for e in collector.events].count("Engagement") == 1
    assert browser_page.errors == []


ROUTER = """<!doctype html>
<html><head><meta charset="utf-8"><title>Router</title></head>
<body><main id="content">{first}<h1>First</h1></main>
<a id="go" href="/spa/second">Second</a>
<script>
  window.__log = [["start", performance.now(), document.visibilityState]];
  // A content-swapping router: the new content (with its page marker) first, then the address.
  document.getElementById("go").addEventListener("click", function (event) {{
    event.preventDefault();
    document.getElementById("content").innerHTML = {second} + "<h1>Second</h1>";
    history.pushState({{}}, "", "/spa/second");
    __log.push(["navigated", performance.now()]);
  }});
</script>
</body></html>
"""


def test_client_side_navigation_sends_the_previous_views_engagement_first(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site = TrackingConfig("lp_router", collector.url, "camp_site")
    first = TrackingConfig("lp_router", collector.url, "camp_first")
    second = TrackingConfig("lp_router", collector.url, "camp_second")
    html = ROUTER.format(
        first=render_page_marker(first), second=json.dumps(render_page_marker(second))
    )
    base = serve_dir(_site(tmp_path / "site", site, {"router.html": html}))
    page = browser_page.page
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    landing, next_url = base + "/router.html", base + "/spa/second"

    page.goto(landing)
    collector.wait_for_count(1, "PageView")
    _engaged_for(page, 1100)
    page.click("#go")
    collector.wait_for_count(2, "PageView")
    engagement = collector.wait_for_count(1, "Engagement")[0]
    # The first view's Engagement: its url and its settings (the swap replaced its marker
    # before the address changed), sent before the next PageView.
    assert engagement["event_data"]["url"] == landing
    assert engagement["campaign_id"] == "camp_first"
    assert 1000 <= engagement["event_data"]["engaged_ms"] < 4000
    page.evaluate("0")  # Playwright has delivered the request events of before
    assert _posted(requests, collector) == [
        ("PageView", landing),
        ("Engagement", landing),
        ("PageView", next_url),
    ]

    page.wait_for_function("performance.now() - __log[1][1] > 1100")  # the second view's own
    page.close(run_before_unload=True)
    engagements = collector.wait_for_count(2, "Engagement")
    assert engagements[1]["event_data"]["url"] == next_url
    assert engagements[1]["campaign_id"] == "camp_second"
    assert 1000 <= engagements[1]["event_data"]["engaged_ms"] < 3000
    assert browser_page.errors == []


def _listeners(page: Page) -> list[str]:
    """The types of the event listeners on ``window`` (DevTools' own view, not the page's)."""
    session = page.context.new_cdp_session(page)
    window = session.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
    found = session.send("DOMDebugger.getEventListeners", {"objectId": window})["listeners"]
    session.detach()
    return sorted(listener["type"] for listener in found)


def test_engagement_off_sends_none_and_adds_no_listeners(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    bare = "<!doctype html><html><head><title>Bare</title></head><body><p>Hi</p></body></html>"
    off = TrackingConfig("lp_off", collector.url, engagement=False)
    on = TrackingConfig("lp_on", collector.url, query_params=["again"])  # ?again is kept
    assert 'data-engagement="false"' in render_snippet(off).body
    off_url = serve_dir(_site(tmp_path / "off", off, {"index.html": bare})) + "/index.html"
    on_url = serve_dir(_site(tmp_path / "on", on, {"index.html": bare})) + "/index.html"
    page = browser_page.page

    page.goto(on_url)
    collector.wait_for_count(1, "PageView")
    with_engagement = _listeners(page)
    page.goto(off_url)
    collector.wait_for_count(2, "PageView")  # the first page's Engagement may come too
    without = _listeners(page)
    for activity in ACTIVITY.split():
        assert with_engagement.count(activity) == 1
        assert activity not in without
    page.mouse.move(50, 50)
    page.wait_for_timeout(1200)  # a second and more on the page
    page.mouse.move(60, 60)
    # Barrier: back to the page with Engagement on, which sends its second view's on leaving.
    page.goto(on_url + "?again")
    page.wait_for_function("performance.now() > 1200")
    page.close(run_before_unload=True)
    collector.wait_for(
        lambda events: any(
            e["event_type"] == "Engagement" and e["event_data"]["url"] == on_url + "?again"
            for e in events
        )
    )
    time.sleep(QUIET_MS / 1000)  # nothing else arrives
    assert {e["landing_page_id"] for e in _of_type(collector, "Engagement")} == {"lp_on"}
    assert browser_page.errors == []


# --------------------------------------------------------------------------- real builds


def _build_mkdocs(tmp_path: Path, api: str, serve: Callable[[str | Path], str]) -> tuple[str, str]:
    """Material with instant navigation (the second page is reached without a full load)."""
    options = f"      landing_page_id: lp_engaged\n      api_base_url: {api}\n"
    pages = {"index.md": "# Home\n\n[Offer](offer.md){#next}\n", "offer.md": "# Offer\n"}
    base = build_instant_material_site(tmp_path, api, serve, options, pages)
    return base + "/", base + "/offer/"


def _build_pelican(tmp_path: Path, api: str, serve: Callable[[str | Path], str]) -> tuple[str, str]:
    setting = f'{{"landing_page_id": "lp_engaged", "api_base_url": "{api}"}}'
    pages = {
        "desk.md": "Title: Desk\nDate: 2026-01-01\nSlug: desk\n\n"
        '<a id="next" href="offer.html">Offer</a>\n',
        "offer.md": "Title: Offer\nDate: 2026-01-02\nSlug: offer\n\nThe offer.\n",
    }
    source = write_pelican_site(tmp_path, SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n", pages)
    result = build_pelican(source, tmp_path / "out", api)
    assert result.returncode == 0, result.stderr
    base = serve(tmp_path / "out")
    return base + "/desk.html", base + "/offer.html"


@pytest.mark.parametrize(
    "build", [pytest.param(_build_mkdocs, id="mkdocs"), pytest.param(_build_pelican, id="pelican")]
)
def test_real_builds_send_one_engagement_per_page_view(
    build: Callable[[Path, str, Callable[[str | Path], str]], tuple[str, str]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    first, second = build(tmp_path, collector.url, serve_dir)
    page = browser_page.page
    page.goto(first)
    collector.wait_for_count(1, "PageView")
    page.mouse.move(40, 40)
    page.wait_for_timeout(1100)  # over a second on the first page
    if build is _build_mkdocs:
        wait_until_instant_ready(page)
    page.evaluate("window.__sameDocument = 1")
    page.click("#next")
    collector.wait_for_count(1, "Engagement")
    collector.wait_for_count(2, "PageView")
    # Material's instant navigation keeps the document; Pelican's link loads the next page.
    assert page.evaluate("window.__sameDocument || 0") == (build is _build_mkdocs)
    page.mouse.move(50, 50)
    page.wait_for_timeout(1100)
    page.close(run_before_unload=True)
    engagements = collector.wait_for_count(2, "Engagement")
    views = [e["event_data"]["url"] for e in _of_type(collector, "PageView")]
    assert views == [first, second]
    assert [e["event_data"]["url"] for e in engagements] == [first, second]
    for event in engagements:
        assert 1000 <= event["event_data"]["engaged_ms"] < 5000
        assert 0 < event["event_data"]["scroll_depth"] <= 100
        assert event["landing_page_id"] == "lp_engaged"
    assert browser_page.errors == []
