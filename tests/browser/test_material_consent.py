"""Material for MkDocs' cookie consent (``extra.consent``) in a real Material build, in Chromium.

With ``aae-tracking`` listed in ``extra.consent.cookies``, the plugin makes the tracker follow
the choice Material stores (``consent: opt-in`` unless set): before the visitor chooses nothing
is sent or stored; accepting in Material's dialog (which reloads the page) sends the PageView,
rejecting sends nothing; later page loads, and pages reached by instant navigation, follow the
stored choice. The build side: a ``consent: none`` that would ignore the dialog stops the build
with one line, a dialog that does not list us is a warning, and ``check`` reads the tags back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aae_tracking_plugins.collector import EventCollector
from tests.cli_helpers import run_cli
from tests.consent_helpers import NOT_SENDING, SENDING, leave, stored, watch
from tests.sites import (
    assert_one_clear_error,
    build_instant_material_site,
    build_mkdocs,
    run,
    tracker_of,
    wait_until_instant_ready,
    write_mkdocs_site,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from tests.conftest import BrowserPage

pytestmark = pytest.mark.browser

Serve = Callable[[str | Path], str]
#: The mkdocs.yml lines docs/consent.md gives: Material's dialog lists the tracker.
EXTRA = """\
extra:
  consent:
    title: Cookie consent
    description: We measure visits to these pages with our own statistics.
    actions: [accept, reject, manage]
    cookies:
      aae-tracking: Landing page statistics
"""
PAGES = {
    "index.md": "# Desk\n\n[Next page](second.md){ #next }\n",
    "second.md": "# Second\n\nMore about the desk.\n",
}
DIALOG = "[data-md-component=consent]"
ACCEPT = "form[name=consent] button:not([type=reset])"
REJECT = "form[name=consent] button[type=reset]"


def options(collector: EventCollector, extra: str = "") -> str:
    return (
        f"      landing_page_id: lp_material\n      api_base_url: {collector.url}\n"
        f"      debug: true\n      engagement: false\n{extra}"
    )


def build(tmp_path: Path, collector: EventCollector, serve: Serve) -> str:
    return build_instant_material_site(
        tmp_path,
        collector.url,
        serve,
        options(collector),
        PAGES,
        "nav: [index.md, second.md]\n" + EXTRA,
    )


def materials_choice(page: Page) -> object:
    """What Material stored: its ``__consent`` key under the site's scope (here "/")."""
    return json.loads(page.evaluate("localStorage.getItem('/.__consent')") or "null")


def ours(page: Page, context: BrowserContext) -> dict[str, dict[str, object]]:
    found = stored(page, context)
    return {
        place: {k: v for k, v in values.items() if "aae" in k} for place, values in found.items()
    }


def open_and_wait(page: Page, url: str, decided: str) -> None:
    with page.expect_console_message(lambda message: message.text.startswith(decided)):
        page.goto(url)


def choose(page: Page, button: str, decided: str) -> None:
    """Click one of Material's buttons: it stores the choice and reloads the page."""
    page.wait_for_selector(button, state="visible")
    with page.expect_console_message(lambda message: message.text.startswith(decided)):
        page.click(button)


def test_nothing_before_the_choice_accepting_sends_and_later_pages_follow(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    base = build(tmp_path, collector, serve_dir)
    open_and_wait(page, base + "/", NOT_SENDING + "held until consent")
    page.wait_for_function(f"!document.querySelector('{DIALOG}').hidden")  # Material's 250 ms
    leave(page)
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    assert materials_choice(page) is None
    assert ours(page, context) == {"cookies": {}, "localStorage": {}, "sessionStorage": {}}

    choose(page, ACCEPT, SENDING)
    view = collector.wait_for_count(1, "PageView")[0]
    assert view["landing_page_id"] == "lp_material"
    assert materials_choice(page) == {"aae-tracking": True}
    assert page.evaluate(f"document.querySelector('{DIALOG}').hidden") is True

    # Instant navigation (no page load) keeps sending ...
    wait_until_instant_ready(page)
    page.evaluate("window.__same_document = true")
    page.click("#next")
    second = collector.wait_for_count(2, "PageView")[1]
    assert second["event_data"]["url"].endswith("/second/")
    assert page.evaluate("window.__same_document") is True
    # ... and so does a later page load, from Material's stored choice.
    open_and_wait(page, base + "/second/", SENDING)
    third = collector.wait_for_count(3, "PageView")[2]
    assert third["session_id"] == view["session_id"]
    assert browser_page.errors == []


def test_rejecting_in_materials_dialog_sends_nothing_now_or_later(
    tmp_path: Path, collector: EventCollector, serve_dir: Serve, browser_page: BrowserPage
) -> None:
    page, context = browser_page.page, browser_page.context
    traffic = watch(context)
    base = build(tmp_path, collector, serve_dir)
    open_and_wait(page, base + "/", NOT_SENDING + "held until consent")
    choose(page, REJECT, NOT_SENDING + "consent refused")
    assert materials_choice(page) == {}
    wait_until_instant_ready(page)
    page.click("#next")  # instant navigation
    page.wait_for_url("**/second/")
    leave(page)
    open_and_wait(page, base + "/second/", NOT_SENDING + "consent refused")
    leave(page)
    assert collector.attempts == []
    assert traffic.to(collector.url) == []
    # The one thing a refusal writes (docs/consent.md), besides Material's own choice.
    assert ours(page, context) == {
        "cookies": {},
        "localStorage": {"aae_consent": False},
        "sessionStorage": {},
    }
    assert browser_page.errors == []


# --------------------------------------------------------------------------- the build


def material_source(
    tmp_path: Path, collector: EventCollector, plugin_extra: str, extra: str
) -> Path:
    source = write_mkdocs_site(tmp_path, options(collector, plugin_extra), PAGES)
    with (source / "mkdocs.yml").open("a", encoding="utf-8") as config:
        config.write("theme:\n  name: material\n  font: false\n" + extra)
    return source


def test_the_build_follows_materials_dialog_and_check_reads_it_back(
    tmp_path: Path, collector: EventCollector
) -> None:
    source = material_source(tmp_path, collector, "", EXTRA)
    result = build_mkdocs(source, tmp_path / "site", collector.url)
    assert result.returncode == 0, result.stderr
    assert "aae-tracking" not in result.stderr
    tracker = tracker_of((tmp_path / "site" / "index.html").read_text("utf-8"))
    assert tracker["data-consent"] == "opt-in"
    assert tracker["data-material-consent"] == "aae-tracking"
    checked = run_cli("check", tmp_path / "site")
    assert checked.returncode == 0, checked.stdout
    assert "(0 outdated)" in checked.stdout
    # opt-out, when set, is kept.
    source = material_source(tmp_path / "b", collector, "      consent: opt-out\n", EXTRA)
    assert build_mkdocs(source, tmp_path / "b" / "site", collector.url).returncode == 0
    tracker = tracker_of((tmp_path / "b" / "site" / "index.html").read_text("utf-8"))
    assert (tracker["data-consent"], tracker["data-material-consent"]) == (
        "opt-out",
        "aae-tracking",
    )


def test_consent_none_with_materials_dialog_listing_us_stops_the_build(
    tmp_path: Path, collector: EventCollector
) -> None:
    source = material_source(tmp_path, collector, "      consent: none\n", EXTRA)
    result = build_mkdocs(source, tmp_path / "site", collector.url)
    assert_one_clear_error(
        result, "plugin option consent: is 'none', but extra.consent.cookies lists 'aae-tracking'"
    )


def test_a_dialog_that_does_not_list_us_is_a_warning(
    tmp_path: Path, collector: EventCollector
) -> None:
    extra = EXTRA.replace("aae-tracking: Landing page statistics", "github: GitHub")
    source = material_source(tmp_path, collector, "", extra)
    # Not quiet (build_mkdocs passes -q, which hides warnings).
    command = [sys.executable, "-m", "mkdocs", "build", "-d", tmp_path / "site"]
    result = run(command, cwd=source)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "aae-tracking" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING")
    assert "extra.consent.cookies has no 'aae-tracking' entry" in warnings[0]
    tracker = tracker_of((tmp_path / "site" / "index.html").read_text("utf-8"))
    assert "data-material-consent" not in tracker
    assert "data-consent" not in tracker
