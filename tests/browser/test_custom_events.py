"""Custom events in real Chromium against the real collector: ``AAE_TRACKING.track(name, props)``
(queued by the head stub, and after the tracker has loaded), declarative ``data-aae-event``
markup, forms (counted only when they actually submit), the tracking plan of the site config
applied by delegation, the browser-side validation of names and props (dropped silently, or
with the reason in debug mode), debug mode itself, the Pixel mapping (``track`` for Meta's
standard names, ``trackCustom`` otherwise) and real MkDocs, Pelican and ``aae-tracking inject``
builds with a tracking plan.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.engine.inject import inject
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.cli_helpers import cli_executable
from tests.pixel_helpers import FBEVENTS, PIXEL_ID, STAND_IN
from tests.sites import one_page_builds, run

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Route

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Event = dict[str, Any]
QUIET_MS = 400
STANDARD = {"PageView", "AddToCart", "Purchase", "Engagement", "WebVitals"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: No favicon request: Chromium's own 404 would be console output the tests do not want.
HEAD = '<meta charset="utf-8"><link rel="icon" href="data:,"><title>Desk</title>'


def _write(
    folder: Path, config: TrackingConfig, body: str, head: str = "", name: str = "index.html"
) -> None:
    html = f"<!doctype html>\n<html><head>{HEAD}{head}</head>\n<body>{body}</body></html>\n"
    (folder / name).write_text(inject(html, render_snippet(config)).html, "utf-8")


def _custom(collector: EventCollector) -> list[Event]:
    return [e for e in collector.events if e["event_type"] not in STANDARD]


def _props(event: Event) -> dict[str, Any]:
    """``event_data`` without what the tracker adds itself (checked separately)."""
    data = dict(event["event_data"])
    assert ISO_UTC.match(data.pop("timestamp")), event
    data.pop("url")
    return data


def _wait_custom(collector: EventCollector, name: str, n: int = 1) -> list[Event]:
    """Waits for ``n`` events ``name``, then a quiet moment: anything sent alongside arrives."""
    collector.wait_for(lambda events: sum(e["event_type"] == name for e in events) >= n)
    time.sleep(QUIET_MS / 1000)
    return [e for e in collector.events if e["event_type"] == name]


class Console:
    """Every console message of a page: ``(type, text, [arguments as JSON])``."""

    def __init__(self, page: Page) -> None:
        self.messages: list[tuple[str, str, list[Any]]] = []
        page.on("console", self._record)

    def _record(self, message: ConsoleMessage) -> None:
        try:
            args = [arg.json_value() for arg in message.args]
        except Exception:  # the page navigated away meanwhile
            args = []
        self.messages.append((message.type, message.text, args))

    def ours(self) -> list[tuple[str, str, list[Any]]]:
        return [m for m in self.messages if m[1].startswith("aae-tracking:")]

    def settle(self, page: Page) -> None:
        """Console messages reach the test after a lag: once the page's own "end" is in, every
        message logged before it is too."""
        with page.expect_console_message(lambda m: m.text == "end"):
            page.evaluate("console.log('end')")
        assert self.messages.pop() == ("log", "end", ["end"])


@pytest.fixture
def site(tmp_path: Path, serve_dir: Callable[[str | Path], str]) -> tuple[Path, Callable[[], str]]:
    """``(folder, base)``: write pages into ``folder``, then ``base()`` serves it."""
    urls: list[str] = []

    def base() -> str:
        if not urls:
            urls.append(serve_dir(tmp_path))
        return urls[0]

    return tmp_path, base


# --------------------------------------------------------------------------- JS API

API_PAGE_HEAD = """<script>
  // Page code in <head>, before the tracker (end of <body>) has loaded: the stub queues it.
  window.AAE_TRACKING.track("Lead", {plan: "pro", seats: 3});
</script>"""


def test_track_before_and_after_the_tracker_loads(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    _write(folder, TrackingConfig("lp_custom", collector.url), "<h1>Desk</h1>", API_PAGE_HEAD)
    page = browser_page.page
    url = base() + "/index.html?utm_source=mail"
    page.goto(url)
    (early,) = _wait_custom(collector, "Lead")
    page.evaluate("window.AAE_TRACKING.track('Lead', {plan: 'team', seats: 12})")
    page.evaluate("window.AAE_TRACKING.track('video_play')")  # no props at all
    leads = _wait_custom(collector, "Lead", 2)
    (video,) = _wait_custom(collector, "video_play")

    assert early["event_data"]["url"] == url
    # The landing's utm_source is the session's campaign: every event carries it (issue 11).
    assert [_props(e) for e in leads] == [
        {"plan": "pro", "seats": 3, "utm_source": "mail"},
        {"plan": "team", "seats": 12, "utm_source": "mail"},
    ]
    assert set(leads[1]["event_data"]) == {"plan", "seats", "url", "timestamp", "utm_source"}
    assert _props(video) == {"utm_source": "mail"}  # no props of its own
    (view,) = collector.wait_for_count(1, "PageView")
    for event in [*leads, video]:
        assert event["landing_page_id"] == "lp_custom"
        assert event["session_id"] == view["session_id"]
    assert len({e["event_id"] for e in collector.events}) == len(collector.events)
    assert collector.rejected == []
    assert browser_page.errors == []


# --------------------------------------------------------------------------- declarative markup

DECLARATIVE = """
<button id="signup" data-aae-event="SignUp" data-aae-prop-plan-name="pro"
  data-aae-prop-seats="3" data-aae-prop-billing_cycle="yearly"><span>Sign up</span></button>
<div id="video" role="button" tabindex="0" data-aae-event="video_play"
  data-aae-prop-video="intro">Play</div>
<div id="outer" data-aae-event="Outer"><p id="inner-text">Outer box</p>
  <a id="inner" href="#inner" data-aae-event="Inner">Inner link</a></div>
<p id="plain">Nothing to count</p>
<shop-widget id="widget"></shop-widget>
<script>
  customElements.define("shop-widget", class extends HTMLElement {
    connectedCallback() {
      this.attachShadow({mode: "open"}).innerHTML =
        '<button id="shadow" data-aae-event="Contact" data-aae-prop-where="shadow">Ask</button>';
    }
  });
</script>
"""


def test_declarative_clicks_and_keyboard(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    _write(folder, TrackingConfig("lp_decl", collector.url), DECLARATIVE)
    page = browser_page.page
    page.goto(base() + "/index.html")
    collector.wait_for_count(1, "PageView")

    page.click("#signup span")  # a nested element: the innermost data-aae-event element counts
    page.click("#plain")
    page.click("#inner")  # nested declarations: only the innermost
    page.click("#inner-text")  # the outer one
    page.click("#widget >> #shadow")  # inside an open shadow root
    page.click("#signup", button="right")  # never
    page.focus("#video")
    page.keyboard.press("Enter")  # not natively activatable: counted by the tracker, once
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # other keys never count
    _wait_custom(collector, "video_play", 2)

    names = sorted(e["event_type"] for e in _custom(collector))
    assert names == ["Contact", "Inner", "Outer", "SignUp", "video_play", "video_play"]
    by_name = {e["event_type"]: e for e in _custom(collector)}
    # data-aae-prop-plan-name is plan_name; values from markup are text.
    assert _props(by_name["SignUp"]) == {
        "plan_name": "pro",
        "seats": "3",
        "billing_cycle": "yearly",
    }
    assert _props(by_name["video_play"]) == {"video": "intro"}
    assert _props(by_name["Contact"]) == {"where": "shadow"}
    assert _props(by_name["Inner"]) == {}
    assert browser_page.errors == []


# --------------------------------------------------------------------------- forms

FORMS = """
<iframe name="sink" title="sink"></iframe>
<form id="real" action="thanks.html" data-aae-event="Lead" data-aae-prop-form="real">
  <input name="email" id="email" required><button id="send">Send</button></form>
<form id="blocked" action="thanks.html" target="sink" data-aae-event="Lead"
  data-aae-prop-form="blocked"><input name="name" required><button id="send-blocked">Send</button>
</form>
<form id="ajax" action="thanks.html" target="sink" data-aae-event="Lead" data-aae-prop-form="ajax">
  <input name="email" id="ajax-email"><button id="send-ajax">Send</button></form>
<form id="scripted" action="thanks.html" target="sink" data-aae-event="Lead"
  data-aae-prop-form="scripted"><input name="email" id="scripted-email"></form>
<form id="stopped" action="thanks.html" target="sink" data-aae-event="Lead"
  data-aae-prop-form="stopped"><input name="email" id="stopped-email">
  <button id="send-stopped">Send</button></form>
<script>
  window.invalid = 0;
  window.ajaxSubmits = 0;
  document.getElementById("blocked").addEventListener("invalid", function () {
    window.invalid++;
  }, true);
  // An AJAX form: the page sends it itself, so the browser's submission is cancelled.
  document.getElementById("ajax").addEventListener("submit", function (e) {
    e.preventDefault();
    window.ajaxSubmits++;
  });
  // A page handler that stops the event from reaching anything else: still a real submission.
  document.getElementById("stopped").addEventListener("submit", function (e) {
    e.stopPropagation();
  });
</script>
"""


def test_forms_count_only_when_they_actually_submit(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    _write(folder, TrackingConfig("lp_forms", collector.url), FORMS)
    (folder / "thanks.html").write_text("<!doctype html><title>Thanks</title><p>Thanks</p>")
    page = browser_page.page
    page.goto(base() + "/index.html")
    collector.wait_for_count(1, "PageView")

    page.click("#email")  # clicks inside a declarative form are no events
    page.click("#send-blocked")  # constraint validation blocks it: no submit event
    page.wait_for_function("window.invalid === 1")
    page.fill("#ajax-email", "ajax-secret@example.com")
    page.click("#send-ajax")  # the page's handler cancels the submission
    page.wait_for_function("window.ajaxSubmits === 1")
    page.fill("#scripted-email", "scripted-secret@example.com")
    page.evaluate("document.getElementById('scripted').submit()")  # fires no submit event
    page.evaluate("document.getElementById('scripted').requestSubmit()")  # does
    page.fill("#stopped-email", "stopped-secret@example.com")
    page.click("#send-stopped")
    leads = _wait_custom(collector, "Lead", 2)
    assert sorted(_props(e)["form"] for e in leads) == ["scripted", "stopped"]

    # A real submission that navigates the page away still arrives.
    page.fill("#email", "real-secret@example.com")
    page.click("#send")
    page.wait_for_url("**/thanks.html?email=*")
    leads = _wait_custom(collector, "Lead", 3)
    assert sorted(_props(e)["form"] for e in leads) == ["real", "scripted", "stopped"]
    assert _custom(collector) == leads
    # Nothing a custom event sends holds what the visitor typed.
    assert "secret" not in json.dumps(collector.events)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- tracking plan

PLAN_PAGE = """
<div id="pricing"><a class="plan" id="pro" href="#pro">Pro</a></div>
<form id="newsletter" action="thanks.html" target="sink"><input id="nl-email" name="email">
  <button id="nl-send">Subscribe</button></form>
<iframe name="sink" title="sink"></iframe>
<button id="add">Add a plan</button>
<button id="bad">Matched by the broken rule's fallback</button>
<script>
  document.getElementById("add").addEventListener("click", function () {
    var a = document.createElement("a");
    a.className = "plan";
    a.id = "team";
    a.href = "#team";
    a.innerHTML = "<b>Team</b>";
    document.getElementById("pricing").appendChild(a);
  });
</script>
"""

PLAN = [
    {"selector": "#pricing a.plan", "event": "InitiateCheckout", "props": {"plan": "any", "n": 2}},
    # Valid for the build-time check, refused by the browser (:has() cannot nest, Selectors
    # Level 4, section 4.5): skipped alone.
    {"selector": "button:has(:has(b))", "event": "Broken", "props": {}},
    {"selector": "form#newsletter", "event": "Subscribe", "props": {"list": "weekly"}},
    {"selector": "#add, #bad", "event": "ButtonPress", "props": {}},
]


def test_tracking_plan_rules_by_delegation(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    _write(folder, TrackingConfig("lp_plan", collector.url, events=PLAN), PLAN_PAGE)  # type: ignore[arg-type]
    (folder / "thanks.html").write_text("<!doctype html><title>Thanks</title><p>Thanks</p>")
    page = browser_page.page
    page.goto(base() + "/index.html")
    collector.wait_for_count(1, "PageView")

    page.click("#pro")
    page.click("#add")  # adds #team after the load
    page.click("#team b")
    page.click("#bad")
    page.click("#nl-email")  # a click inside the form is not its submission
    page.fill("#nl-email", "plan-secret@example.com")
    page.press("#nl-email", "Enter")  # implicit submission from the field
    _wait_custom(collector, "Subscribe")
    _wait_custom(collector, "InitiateCheckout", 2)

    events = _custom(collector)
    assert sorted(e["event_type"] for e in events) == [
        "ButtonPress",
        "ButtonPress",
        "InitiateCheckout",
        "InitiateCheckout",
        "Subscribe",
    ]
    by_name = {e["event_type"]: _props(e) for e in events}
    assert by_name["InitiateCheckout"] == {"plan": "any", "n": 2}
    assert by_name["Subscribe"] == {"list": "weekly"}
    assert "secret" not in json.dumps(collector.events)
    assert browser_page.errors == []


# --------------------------------------------------------------------------- validation and debug

#: Each invalid call and a word its debug message must hold.
INVALID = [
    ("track('bad name', {})", "name"),
    ("track('', {})", "name"),
    ("track('x'.repeat(51))", "name"),
    ("track(['Lead'])", "name"),
    ("track()", "name"),
    ("track('PageView', {})", "name"),
    ("track('Purchase', {value: 1})", "name"),
    ("track('Lead', 'pro')", "props"),
    ("track('Lead', {url: 'https://evil.example/'})", "url"),
    ("track('Lead', {variant: 'B'})", "variant"),
    ("track('Lead', {Plan: 'pro'})", "Plan"),
    ("track('Lead', {'plan-name': 'pro'})", "plan-name"),
    (
        "track('Lead', Object.fromEntries(Array.from({length: 21}, (_, i) => ['k' + i, i])))",
        "20",
    ),
    ("track('Lead', {plan: {name: 'pro'}})", "plan"),
    ("track('Lead', {plan: ['pro']})", "plan"),
    ("track('Lead', {note: 'x'.repeat(201)})", "note"),
    ("track('Lead', {note: '\\u{1F600}'.repeat(201)})", "note"),
    ("track('Lead', {seats: NaN})", "seats"),
    ("track('Lead', {seats: Infinity})", "seats"),
    ("track('Lead', {paid: true})", "paid"),
    ("track('Lead', {seats: null})", "seats"),
]
VALID_EDGES = (
    "track('Lead', Object.fromEntries(Array.from({length: 20}, (_, i) => ['k' + i, i])))",
    "track('a_' + 'x'.repeat(48), {note: 'x'.repeat(200), n: -1.5})",
    # 200 characters, 400 UTF-16 code units: what the schema and the build-time check count.
    "track('Emoji', {note: '\\u{1F600}'.repeat(200)})",
)


def _call_all(page: Page, calls: list[str]) -> None:
    # Each through the public API: none may throw into the page.
    for call in calls:
        assert page.evaluate(f"(() => {{ window.AAE_TRACKING.{call}; return 1; }})()") == 1


def test_invalid_calls_are_dropped_silently_without_debug(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    _write(folder, TrackingConfig("lp_valid", collector.url), "<p>Hi</p>")
    page = browser_page.page
    console = Console(page)
    page.goto(base() + "/index.html")
    collector.wait_for_count(1, "PageView")
    _call_all(page, [call for call, _ in INVALID])
    _call_all(page, [*VALID_EDGES, "track('Sentinel')"])
    _wait_custom(collector, "Sentinel")
    console.settle(page)
    edges = {e["event_type"]: _props(e) for e in _custom(collector)}
    assert len(edges) == 4  # the limits themselves are fine
    assert edges["Lead"] == {f"k{i}": i for i in range(20)}
    assert edges["a_" + "x" * 48] == {"note": "x" * 200, "n": -1.5}
    assert edges["Emoji"] == {"note": "\U0001f600" * 200}
    assert collector.rejected == []
    assert console.messages == []  # no console output at all
    assert browser_page.errors == []


@pytest.mark.parametrize("how", ["setting", "url"])
def test_debug_mode_names_the_reason_of_each_dropped_call(
    how: str,
    site: tuple[Path, Callable[[], str]],
    collector: EventCollector,
    browser_page: BrowserPage,
) -> None:
    folder, base = site
    config = TrackingConfig("lp_debug", collector.url, debug=how == "setting")
    page = browser_page.page
    console = Console(page)
    # The stub captures the landing URL: a page script tidying the address does not matter.
    query = "?aae_debug=1&utm_source=x" if how == "url" else "?utm_source=x"
    tidy = "<script>history.replaceState(null, '', location.pathname)</script>"
    _write(folder, config, "<p>Hi</p>", tidy)
    page.goto(base() + "/index.html" + query)
    collector.wait_for_count(1, "PageView")
    page.wait_for_function("location.search === ''")
    for call, word in INVALID:
        with page.expect_console_message(lambda m: "dropped" in m.text) as message:
            _call_all(page, [call])
        assert message.value.type == "info", call  # never a warning or an error
        assert word in message.value.text, (call, message.value.text)
    _call_all(page, ["track('Sentinel')"])
    _wait_custom(collector, "Sentinel")
    console.settle(page)
    dropped = [text for _, text, _ in console.ours() if "dropped" in text]
    assert len(dropped) == len(INVALID), dropped  # one message per call
    assert [e["event_type"] for e in _custom(collector)] == ["Sentinel"]
    assert browser_page.errors == []


def test_debug_mode_logs_every_sent_event(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    body = '<a class="cta-button" id="buy" href="#buy">Buy</a>'
    body += '<button id="lead" data-aae-event="Lead" data-aae-prop-plan="pro">Talk to us</button>'
    # A form whose own handler cancels the submission: not counted, and debug mode says so.
    body += (
        '<form id="cancelled" data-aae-event="SignUp" action="#sent"'
        ' onsubmit="event.preventDefault()"><button id="send">Send</button></form>'
    )
    plan = [{"selector": "a:has(:has(b))", "event": "Broken"}]
    config = TrackingConfig("lp_debug", collector.url, debug=True, events=plan)  # type: ignore[arg-type]
    _write(folder, config, body, API_PAGE_HEAD)
    page = browser_page.page
    console = Console(page)
    page.goto(base() + "/index.html")
    collector.wait_for_count(1, "PageView")
    page.click("#buy")
    page.click("#lead")
    with page.expect_console_message(lambda m: "submit cancelled by the page" in m.text):
        page.click("#send")
    _wait_custom(collector, "Lead", 2)
    collector.wait_for_count(1, "AddToCart")
    console.settle(page)

    logged = {
        args[1]["event_id"]: args[1]
        for _, _, args in console.ours()
        if len(args) > 1 and isinstance(args[1], dict) and "event_id" in args[1]
    }
    sent = [e for e in collector.events if e["event_type"] != "Engagement"]
    assert sorted(e["event_type"] for e in sent) == ["AddToCart", "Lead", "Lead", "PageView"]
    for event in sent:  # each logged, as it was sent
        assert event["event_id"] in logged, (event, console.messages)
        assert logged[event["event_id"]]["event_data"] == event["event_data"]
    texts = [text for _, text, _ in console.ours()]
    assert any("sending to " + collector.url in text for text in texts), texts
    assert any("rule skipped" in text for text in texts), texts
    assert {kind for kind, _, _ in console.messages} == {"info"}
    assert browser_page.errors == []


def test_debug_mode_says_why_a_page_does_not_send(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    body = '<button id="lead" data-aae-event="Lead">Talk to us</button>'
    _write(folder, TrackingConfig("lp_debug", collector.url), body, API_PAGE_HEAD)
    page = browser_page.page
    page.add_init_script("Object.defineProperty(navigator, 'webdriver', {get: () => true})")
    console = Console(page)
    with page.expect_console_message(lambda m: "not sending" in m.text):
        page.goto(base() + "/index.html?aae_debug=1")

    def leads() -> list[str]:
        return [t for _, t, _ in console.ours() if t.startswith("aae-tracking: Lead")]

    # The queued call's Lead is logged right after "not sending", in the same task; wait for it
    # before clicking, so each Lead message is known to come from the call it is counted for.
    deadline = time.monotonic() + 10
    while not leads() and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    assert len(leads()) == 1, [t for _, t, _ in console.ours()]
    page.click("#lead")
    while len(leads()) < 2 and time.monotonic() < deadline + 10:
        page.wait_for_timeout(20)
    console.settle(page)
    texts = [text for _, text, _ in console.ours()]
    print("\n".join(texts))  # shown in the report if an assertion below fails
    assert any("not sending" in t and "automation" in t for t in texts), texts
    # Each event of the page says it was not sent, and why.
    leads = [t for t in texts if t.startswith("aae-tracking: Lead")]
    assert len(leads) == 2, texts
    assert all("not sent" in t and "automation" in t for t in leads), texts
    assert collector.events == []
    assert browser_page.errors == []


# --------------------------------------------------------------------------- Pixel


def test_pixel_track_for_standard_names_and_track_custom_otherwise(
    site: tuple[Path, Callable[[], str]], collector: EventCollector, browser_page: BrowserPage
) -> None:
    folder, base = site
    config = TrackingConfig("lp_pixel", collector.url, facebook_pixel_id=PIXEL_ID, variant="B")
    _write(folder, config, '<button id="play" data-aae-event="video_play">Play</button>')
    page = browser_page.page

    def fbevents(route: Route) -> None:
        route.fulfill(status=200, body=STAND_IN, content_type="text/javascript")

    page.route(FBEVENTS, fbevents)
    page.goto(base() + "/index.html")
    view = collector.wait_for_count(1, "PageView")[0]
    page.evaluate("window.AAE_TRACKING.track('Lead', {plan: 'pro', seats: 3})")
    (lead,) = _wait_custom(collector, "Lead")
    page.evaluate("window.AAE_TRACKING.track('video_play', {video: 'intro'})")
    page.click("#play")
    plays = _wait_custom(collector, "video_play", 2)
    page.wait_for_function("(window.__fbq || []).length >= 5")
    calls = page.evaluate("window.__fbq")
    assert calls == [
        ["init", PIXEL_ID],
        ["track", "PageView", {"variant": "B"}, {"eventID": view["event_id"]}],
        [
            "track",
            "Lead",
            {"plan": "pro", "seats": 3, "variant": "B"},
            {"eventID": lead["event_id"]},
        ],
        [
            "trackCustom",
            "video_play",
            {"video": "intro", "variant": "B"},
            {"eventID": plays[0]["event_id"]},
        ],
        ["trackCustom", "video_play", {"variant": "B"}, {"eventID": plays[1]["event_id"]}],
    ]
    assert lead["event_data"]["variant"] == "B"
    assert browser_page.errors == []


# --------------------------------------------------------------------------- real builds

PRICING = '<div id="pricing"><a class="plan" id="pro" href="#pro">Pro plan</a></div>\n\n'
#: The declarative element as docs/custom-events.md writes it: Markdown with attr_list (MkDocs
#: with the extension enabled, Pelican by default), HTML for the CLI.
TALK_MD = '[Talk to sales](#talk){ #talk data-aae-event="Lead" data-aae-prop-plan-name="team" }\n'
TALK_HTML = (
    '<a id="talk" href="#talk" data-aae-event="Lead" data-aae-prop-plan-name="team">Talk</a>'
)

PLAN_YAML = """      events:
        - selector: "#pricing a.plan"
          event: InitiateCheckout
          props: {plan: pro, seats: 3}
"""
PLAN_PY = [
    {
        "selector": "#pricing a.plan",
        "event": "InitiateCheckout",
        "props": {"plan": "pro", "seats": 3},
    }
]
PLAN_TOML = """
[[aae_tracking.events]]
selector = "#pricing a.plan"
event = "InitiateCheckout"
props = { plan = "pro", seats = 3 }
"""


def _inject_cli(tmp_path: Path, api: str) -> tuple[Path, str]:
    site = tmp_path / "public"
    site.mkdir()
    body = f"<h1>Desk</h1>{PRICING}{TALK_HTML}"
    html = f"<!doctype html><html><head>{HEAD}</head><body>{body}</body></html>"
    (site / "index.html").write_text(html, "utf-8")
    config = tmp_path / "tracking.toml"
    config.write_text(
        f'[aae_tracking]\nlanding_page_id = "lp_plan"\napi_base_url = "{api}"\n' + PLAN_TOML,
        "utf-8",
    )
    result = run([cli_executable(), "inject", site, "--config", config], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return site, "/index.html"


@pytest.mark.parametrize(
    "build",
    [
        *one_page_builds(
            lambda api: {"landing_page_id": "lp_plan", "api_base_url": api, "events": PLAN_PY},
            PRICING + TALK_MD,
            yaml={"events": PLAN_YAML},  # the plan as docs/custom-events.md writes it
        ),
        pytest.param(_inject_cli, id="cli"),
    ],
)
def test_real_builds_send_the_plan_and_declarative_events(
    build: Callable[[Path, str], tuple[Path, str]],
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site, path = build(tmp_path, collector.url)
    page = browser_page.page
    page.goto(serve_dir(site) + path)
    collector.wait_for_count(1, "PageView")
    page.click("#pro")
    page.click("#talk")
    (checkout,) = _wait_custom(collector, "InitiateCheckout")
    (lead,) = _wait_custom(collector, "Lead")
    assert _props(checkout) == {"plan": "pro", "seats": 3}
    assert _props(lead) == {"plan_name": "team"}
    assert checkout["landing_page_id"] == lead["landing_page_id"] == "lp_plan"
    assert len(_custom(collector)) == 2
    assert browser_page.errors == []
