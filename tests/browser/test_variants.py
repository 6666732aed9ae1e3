"""A/B variants in real Chromium, against the real collector.

- Real MkDocs (Material, instant navigation) and Pelican builds: a site-wide variant, a page
  that overrides it (front matter ``aae_tracking: {variant: B}`` / metadata
  ``aae_tracking_variant: B``) and one that removes it (an empty value). Every event of a page
  carries that page's variant, also after an instant navigation from an A page to a B page, and
  the Pixel's custom data carries it (the recording fbevents.js stand-in of test_pixel.py).
  Then the result script of docs/ab-testing.md, copied from the page, reads the collector.
- One hand-written page each for ``AAE_TRACKING.setVariant()``: before the tracker loads (an
  inline script in ``<head>`` after the stub), after it, invalid names refused, and the Pixel.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.pixel_helpers import FBEVENTS, STAND_IN
from tests.sites import (
    ROOT,
    SETTINGS_HEAD,
    build_instant_material_site,
    build_pelican,
    wait_until_instant_ready,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]

PIXEL_ID = "1234567890123"
LANDING = "lp_ab"
QUIET_MS = 300


def _route_pixel(target: Page | BrowserContext) -> None:
    def fbevents(route: Route) -> None:
        route.fulfill(status=200, body=STAND_IN, content_type="text/javascript")

    target.route(FBEVENTS, fbevents)
    target.route("https://www.facebook.com/**", lambda route: route.fulfill(status=204))


def _pixel_calls(page: Page, n: int) -> list[list[Any]]:
    page.wait_for_function(f"(window.__fbq || []).length >= {n}")
    calls: list[list[Any]] = page.evaluate("window.__fbq")
    return calls


def _of(
    collector: EventCollector, event_type: str, session: str | None = None, **data: Any
) -> list[Event]:
    return [
        e
        for e in collector.events
        if e["event_type"] == event_type
        and session in (None, e["session_id"])
        and all(e["event_data"].get(key) == value for key, value in data.items())
    ]


def _wait(
    collector: EventCollector, event_type: str, session: str | None = None, **data: Any
) -> Event:
    """The first event of ``event_type`` (of ``session``) whose event_data has ``data``."""

    def arrived(events: list[Event]) -> bool:
        return bool(_of(collector, event_type, session, **data))

    arrived.__name__ = f"{event_type} {session or ''} {data}"
    collector.wait_for(arrived)
    return _of(collector, event_type, session, **data)[0]


# --------------------------------------------------------------------------- real builds

# index: the site's variant A; offer-b: B; thanks: none (an empty override). The CTAs lead to the
# thank-you page, which records a Purchase declaratively.
CTA = '<a class="cta-button" id="buy" href="{href}">Buy the desk</a>'
LINK = '<a id="{id}" href="{href}">{text}</a>'
PURCHASE = '<div data-aae-purchase data-aae-value="49" data-aae-currency="EUR" hidden></div>'


def _mkdocs_pages() -> dict[str, str]:
    return {
        "index.md": "# Desk A\n\n"
        + CTA.format(href="thanks/")
        + "\n\n"
        + LINK.format(id="to-b", href="offer-b/", text="Offer B")
        + "\n",
        "offer-b.md": "---\naae_tracking:\n  variant: B\n---\n\n# Desk B\n\n"
        + CTA.format(href="../thanks/")
        + "\n\n"
        + LINK.format(id="to-a", href="../", text="Offer A")
        + "\n",
        "thanks.md": "---\naae_tracking:\n  variant: ''\n---\n\n# Thanks\n\n" + PURCHASE + "\n",
    }


def _build_mkdocs(
    tmp_path: Path, api: str, serve: Callable[[Path], str]
) -> tuple[str, dict[str, str]]:
    options = (
        f"      landing_page_id: {LANDING}\n      api_base_url: {api}\n"
        f"      variant: A\n      facebook_pixel_id: '{PIXEL_ID}'\n"
    )
    base = build_instant_material_site(
        tmp_path, api, serve, options, _mkdocs_pages(), "nav: [index.md, offer-b.md, thanks.md]\n"
    )
    return base, {"a": base + "/", "b": base + "/offer-b/", "thanks": base + "/thanks/"}


def _build_pelican(
    tmp_path: Path, api: str, serve: Callable[[Path], str]
) -> tuple[str, dict[str, str]]:
    setting = (
        f'{{"landing_page_id": "{LANDING}", "api_base_url": "{api}", "variant": "A", '
        f'"facebook_pixel_id": "{PIXEL_ID}"}}'
    )
    head = "Date: 2026-01-01\n"
    pages = {
        "a.md": "Title: Desk A\nSlug: offer-a\n"
        + head
        + "\n"
        + CTA.format(href="thanks.html")
        + "\n\n"
        + LINK.format(id="to-b", href="offer-b.html", text="Offer B")
        + "\n",
        "b.md": "Title: Desk B\nSlug: offer-b\naae_tracking_variant: B\n"
        + head
        + "\n"
        + CTA.format(href="thanks.html")
        + "\n\n"
        + LINK.format(id="to-a", href="offer-a.html", text="Offer A")
        + "\n",
        "thanks.md": "Title: Thanks\nSlug: thanks\naae_tracking_variant:\n"
        + head
        + "\n"
        + PURCHASE
        + "\n",
    }
    source = tmp_path / "src"
    (source / "content").mkdir(parents=True)
    (source / "pelicanconf.py").write_text(SETTINGS_HEAD + f"AAE_TRACKING = {setting}\n", "utf-8")
    for name, text in pages.items():
        (source / "content" / name).write_text(text, "utf-8")
    dest = tmp_path / "out"
    result = build_pelican(source, dest, api)
    assert result.returncode == 0, result.stderr + result.stdout
    base = serve(dest)
    return base, {
        "a": base + "/offer-a.html",
        "b": base + "/offer-b.html",
        "thanks": base + "/thanks.html",
    }


class Visitors:
    """New visitors: each one a fresh browser context (own cookies: own session), Pixel routed."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def new(self) -> Page:
        context = self.browser.new_context()
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        _route_pixel(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def visitors(browser: Browser) -> Iterator[Visitors]:
    crowd = Visitors(browser)
    yield crowd
    crowd.close()
    assert crowd.errors == []


def _docs_script(tmp_path: Path, heading: str) -> Path:
    """The first ```python block of docs/ab-testing.md whose first line is ``heading``."""
    text = (ROOT / "docs" / "ab-testing.md").read_text("utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.S | re.M)
    found = [block for block in blocks if block.startswith(heading)]
    assert found, f"no python block starting with {heading!r} in docs/ab-testing.md"
    script = tmp_path / "ab_report.py"
    script.write_text(found[0], "utf-8")
    return script


def _docs_output() -> str:
    text = (ROOT / "docs" / "ab-testing.md").read_text("utf-8")
    outputs: list[str] = re.findall(r"^```text\n(.*?)^```$", text, re.S | re.M)
    assert len(outputs) == 1
    return outputs[0]


@pytest.mark.parametrize(
    "build", [pytest.param(_build_mkdocs, id="mkdocs"), pytest.param(_build_pelican, id="pelican")]
)
def test_real_builds_run_a_two_page_test_and_the_docs_script_reads_it(
    build: Callable[[Path, str, Callable[[Path], str]], tuple[str, dict[str, str]]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    visitors: Visitors,
) -> None:
    _, url = build(tmp_path, collector.url, serve_dir)

    # Visitor 1 lands on A, clicks, buys. The Pixel gets the variant as custom data.
    page = visitors.new()
    page.goto(url["a"])
    view = _wait(collector, "PageView", url=url["a"])
    assert view["event_data"]["variant"] == "A"
    assert _pixel_calls(page, 2) == [
        ["init", PIXEL_ID],
        ["track", "PageView", {"variant": "A"}, {"eventID": view["event_id"]}],
    ]
    one = view["session_id"]
    page.click("#buy")
    assert _wait(collector, "AddToCart")["event_data"]["variant"] == "A"
    thanks = _wait(collector, "PageView", url=url["thanks"])
    purchase = _wait(collector, "Purchase")
    assert "variant" not in thanks["event_data"]  # the empty override removed the site's
    assert "variant" not in purchase["event_data"]
    assert purchase["session_id"] == one

    # Visitor 2 lands on B, clicks, buys; visitor 3 lands on B and leaves.
    page = visitors.new()
    page.goto(url["b"])
    view = _wait(collector, "PageView", url=url["b"])
    assert view["event_data"]["variant"] == "B"
    two = view["session_id"]
    page.click("#buy")
    _wait(collector, "AddToCart", two, variant="B")
    collector.wait_for(lambda events: len(_of(collector, "Purchase")) == 2)
    page = visitors.new()
    page.goto(url["b"])
    collector.wait_for(lambda events: len(_of(collector, "PageView", url=url["b"])) == 2)
    page.close()

    # The result, with the script of docs/ab-testing.md, as the docs show it.
    script = _docs_script(tmp_path, "# ab_report.py")
    result = subprocess.run(
        [sys.executable, str(script), collector.url, LANDING],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == _docs_output()

    # Visitor 4 goes from A to B (instant navigation on Material: the same document) and back:
    # each PageView carries its page's variant, and so does a CTA click on B.
    page = visitors.new()
    page.goto(url["a"])
    collector.wait_for(lambda events: len(_of(collector, "PageView", url=url["a"])) == 2)
    four = _of(collector, "PageView", url=url["a"])[1]["session_id"]
    if build is _build_mkdocs:
        wait_until_instant_ready(page)
    page.evaluate("window.__sameDocument = 1")
    page.click("#to-b")
    page.wait_for_selector("#to-a")
    _wait(collector, "PageView", four, url=url["b"], referrer=url["a"], variant="B")
    page.click("#buy")
    _wait(collector, "AddToCart", four, variant="B")
    page.wait_for_selector("#buy", state="detached")
    _wait(collector, "PageView", four, url=url["thanks"], referrer=url["b"])
    if build is _build_mkdocs:
        assert page.evaluate("window.__sameDocument") == 1, "not an instant navigation"
    views = [
        (e["event_data"]["url"], e["event_data"].get("variant"))
        for e in collector.events
        if e["event_type"] == "PageView" and e["session_id"] == four
    ]
    assert views == [(url["a"], "A"), (url["b"], "B"), (url["thanks"], None)]


# --------------------------------------------------------------------------- setVariant()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Variant page</title>{head}</head>
<body><h1>Desk</h1>
<a class="cta-button" id="buy" href="#buy">Buy the desk</a>
</body></html>
"""


def _page(
    tmp_path: Path, serve_dir: Callable[[str | Path], str], config: TrackingConfig, head: str = ""
) -> str:
    html = inject(PAGE.format(head=head), render_snippet(config)).html
    (tmp_path / "index.html").write_text(html, "utf-8")
    # The stub comes first in <head>, the page's own script after it.
    assert html.index('data-aae-tracking="stub"') < html.index(head or "<h1>")
    return serve_dir(tmp_path) + "/index.html"


def test_set_variant_before_the_tracker_loads(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    """Queued by the stub from an inline <head> script: applied before the first PageView; the
    invalid names after it are refused and leave it in force."""
    head = (
        "<script>AAE_TRACKING.setVariant('hero-2');"
        " AAE_TRACKING.setVariant('not valid!'); AAE_TRACKING.setVariant({});"
        " AAE_TRACKING.setVariant(Symbol('x'));</script>"
    )
    config = TrackingConfig(LANDING, collector.url, variant="A")
    page = browser_page.page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(_page(tmp_path, serve_dir, config, head) + "?aae_debug=1")
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["event_data"]["variant"] == "hero-2"
    page.click("#buy")
    assert collector.wait_for_count(1, "AddToCart")[0]["event_data"]["variant"] == "hero-2"
    refused = [m for m in messages if m.startswith("aae-tracking: setVariant refused")]
    assert len(refused) == 3
    assert browser_page.errors == []


def test_set_variant_after_the_tracker_loaded(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    config = TrackingConfig(LANDING, collector.url, variant="A")
    page = browser_page.page
    page.goto(_page(tmp_path, serve_dir, config))
    assert collector.wait_for_count(1, "PageView")[0]["event_data"]["variant"] == "A"

    def click_variant(call: str, n: int) -> str | None:
        page.evaluate(call)
        page.click("#buy")
        variant: str | None = collector.wait_for_count(n, "AddToCart")[n - 1]["event_data"].get(
            "variant"
        )
        return variant

    assert click_variant("AAE_TRACKING.setVariant('late_1')", 1) == "late_1"
    # Refused: the variant stays as it was.
    for bad in ("''", "'x'.repeat(65)", "'-lead'", "'a b'", "true", "[]"):
        assert page.evaluate(f"AAE_TRACKING.setVariant({bad})") is None  # no error, no value
    assert click_variant("0", 2) == "late_1"
    assert click_variant("AAE_TRACKING.setVariant(7)", 3) == "7"  # a number is its text
    assert click_variant("AAE_TRACKING.setVariant(null)", 4) == "A"  # back to the page's own
    page.evaluate("AAE_TRACKING.trackPurchase({value: 5, currency: 'EUR'})")
    assert collector.wait_for_count(1, "Purchase")[0]["event_data"]["variant"] == "A"
    assert browser_page.errors == []


def test_set_variant_on_a_page_without_one_and_the_pixel(
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    """Every event the Pixel gets carries the variant in its custom data, whichever way it was
    set; custom events too (with their properties)."""
    config = TrackingConfig(LANDING, collector.url, facebook_pixel_id=PIXEL_ID)
    page = browser_page.page
    _route_pixel(page)
    page.goto(_page(tmp_path, serve_dir, config))
    view = collector.wait_for_count(1, "PageView")[0]
    assert "variant" not in view["event_data"]
    page.evaluate("AAE_TRACKING.setVariant('B')")
    page.click("#buy")
    click = collector.wait_for_count(1, "AddToCart")[0]
    page.evaluate("AAE_TRACKING.trackPurchase({value: 49.5, currency: 'EUR', order_id: 'O-1'})")
    purchase = collector.wait_for_count(1, "Purchase")[0]
    page.evaluate("AAE_TRACKING.track('Lead', {plan: 'pro'})")
    lead = collector.wait_for_count(1, "Lead")[0]
    assert [e["event_data"].get("variant") for e in (click, purchase, lead)] == ["B", "B", "B"]
    assert _pixel_calls(page, 5) == [
        ["init", PIXEL_ID],
        ["track", "PageView", {}, {"eventID": view["event_id"]}],
        [
            "track",
            "AddToCart",
            {"content_name": "Buy the desk", "variant": "B"},
            {"eventID": click["event_id"]},
        ],
        [
            "track",
            "Purchase",
            {"value": 49.5, "currency": "EUR", "variant": "B"},
            {"eventID": purchase["event_id"]},
        ],
        ["track", "Lead", {"plan": "pro", "variant": "B"}, {"eventID": lead["event_id"]}],
    ]
    assert browser_page.errors == []


# --------------------------------------------------------------------------- the docs script


def _load_docs_module(tmp_path: Path) -> Any:
    script = _docs_script(tmp_path, "# ab_report.py")
    spec = importlib.util.spec_from_file_location("ab_report", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(session: str, event_type: str, t: int, **data: Any) -> Event:
    return {
        "event_type": event_type,
        "landing_page_id": LANDING,
        "session_id": session,
        "timestamp": f"2026-03-02T09:{t // 60:02d}:{t % 60:02d}.000Z",
        "event_data": data,
    }


def test_docs_script_attributes_a_session_to_its_first_variant(tmp_path: Path) -> None:
    ab = _load_docs_module(tmp_path)
    events = [
        # Listed out of time order: the first variant by time counts.
        _event("s1", "PageView", 5, variant="B"),
        _event("s1", "PageView", 1, variant="A"),
        _event("s1", "AddToCart", 6, variant="B"),
        _event("s1", "Purchase", 9, value=10, currency="EUR"),  # e.g. from a webhook
        _event("s1", "Purchase", 10, value=5.5, currency="USD"),
        _event("s2", "PageView", 2, variant="B"),
        _event("s3", "PageView", 3),  # never saw a page of the test
        _event("s3", "Purchase", 4, value=99, currency="EUR"),
        {**_event("s4", "PageView", 1, variant="A"), "landing_page_id": "lp_other"},
    ]
    rows = ab.report(events, LANDING)
    assert rows == {
        "A": {"visitors": 1, "clicked": 1, "bought": 1, "revenue": {"EUR": 10, "USD": 5.5}},
        "B": {"visitors": 1, "clicked": 0, "bought": 0, "revenue": {}},
    }
    assert ab.report(events)["A"]["visitors"] == 2  # every landing page


def test_docs_script_p_value_is_the_two_proportion_z_test(tmp_path: Path) -> None:
    ab = _load_docs_module(tmp_path)
    # 20/200 against 34/200, computed independently with statistics.NormalDist.
    pooled = 54 / 400
    z = (34 / 200 - 20 / 200) / math.sqrt(pooled * (1 - pooled) * (2 / 200))
    expected = 2 * (1 - NormalDist().cdf(z))
    assert ab.p_value(20, 200, 34, 200) == pytest.approx(expected, rel=1e-9)
    assert ab.p_value(20, 200, 34, 200) == pytest.approx(0.0405, abs=5e-4)
    assert ab.p_value(0, 10, 0, 10) == 1.0  # nobody bought: no evidence either way
    assert textwrap.dedent(_docs_output()).startswith("variant")
