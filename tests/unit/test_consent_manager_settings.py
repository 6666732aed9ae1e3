"""Consent managers on the Python side: ``consent_manager`` / ``consent_category`` validation
(one line naming the setting), the gated tracker tag each manager's documentation asks for, the
same script text (and CSP hashes) gated or not, no Pixel ``<noscript>`` image; ``inject``
keeping a gating found on a page (ours or someone else's) rather than making a tag that runs
without consent; ``check`` reporting a gated tracker as ``gated``; the CLI's flags. The real
manager in Chromium: tests/browser/test_consent_managers.py.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest

from aae_tracking_plugins.core.audit import GATED, OUTDATED, TRACKED, UNTRACKED, audit_page
from aae_tracking_plugins.core.engine.gating import TRACKER_ATTRIBUTES
from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE, inject
from aae_tracking_plugins.core.engine.search import script_text
from aae_tracking_plugins.core.engine.xhtml import audit_xhtml, inject_xhtml
from aae_tracking_plugins.core.settings import SETTING_NAMES, TrackingConfig
from aae_tracking_plugins.core.tags import csp_hashes, render_snippet, render_xml_snippet
from aae_tracking_plugins.core.values import ConfigError
from tests.cli_helpers import one_error_line, run_cli, small_site
from tests.sites import elements, tracker_of

API = "https://api.aae.com"
PIXEL = "1234567890123"
PAGE = "<!doctype html><html><head><title>x</title></head><body><p>hi</p></body></html>"
XHTML = (
    '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
    "<head><title>x</title></head><body><p>hi</p></body></html>"
)


def make(**settings: object) -> TrackingConfig:
    return TrackingConfig.from_mapping({"landing_page_id": "lp_1", "api_base_url": API, **settings})


def error_of(where: str = "", **settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        TrackingConfig.from_mapping(
            {"landing_page_id": "lp_1", "api_base_url": API, **settings}, where=where
        )
    message = str(caught.value)
    assert "\n" not in message
    return message


def gated_part(tracker: dict[str, str | None]) -> dict[str, str | None]:
    """The tag's attributes that are not ours (``tracker_of`` adds the script as "text")."""
    return {k: v for k, v in tracker.items() if k not in TRACKER_ATTRIBUTES and k != "text"}


# --------------------------------------------------------------------------- settings, tags


def test_the_settings_are_known_and_off_by_default() -> None:
    assert {"consent_manager", "consent_category"} <= set(SETTING_NAMES)
    config = make()
    assert (config.consent_manager, config.consent_category, config.gating) == ("none", None, ())
    assert make(consent_manager=None, consent_category=None) == config
    assert make(consent_category="") == config  # "" is not set, as for the ids


@pytest.mark.parametrize(
    ("settings", "gating"),
    [
        # vanilla-cookieconsent's "How to manage scripts"
        ({"consent_manager": "vanilla-cookieconsent"}, {"data-category": "analytics"}),
        (
            {"consent_manager": "vanilla-cookieconsent", "consent_category": "measure"},
            {"data-category": "measure"},
        ),
        # Klaro: the service name, and the type its copy gets
        (
            {"consent_manager": "klaro"},
            {"data-type": "text/javascript", "data-name": "aae-tracking"},
        ),
        # Cookiebot's manual blocking: its own categories, comma-separated for several
        ({"consent_manager": "cookiebot"}, {"data-cookieconsent": "statistics"}),
        (
            {"consent_manager": "cookiebot", "consent_category": "statistics, marketing"},
            {"data-cookieconsent": "statistics,marketing"},
        ),
    ],
)
@pytest.mark.parametrize("inline", [True, False])
def test_each_manager_gets_the_tag_its_documentation_asks_for(
    settings: dict[str, object], gating: dict[str, str], inline: bool
) -> None:
    config = make(inline_script=inline, facebook_pixel_id=PIXEL, **settings)
    body = render_snippet(config).body
    tracker = tracker_of(body)
    assert gated_part(tracker) == {"type": "text/plain", **gating}
    plain = render_snippet(make(inline_script=inline, facebook_pixel_id=PIXEL)).body
    assert {k: v for k, v in tracker.items() if k not in gating and k != "type"} == tracker_of(
        plain
    )
    # The same script (text, or file and integrity): the same CSP hashes.
    assert script_text(body) == script_text(plain)
    assert csp_hashes(config) == csp_hashes(make(facebook_pixel_id=PIXEL))
    # Nothing can gate a <noscript> image: none with a manager.
    assert elements(body, "noscript") == []


def test_the_engine_knows_every_attribute_the_template_writes() -> None:
    # Anything else on a tracker tag is taken for a consent manager's (engine/gating.py).
    template = files("aae_tracking_plugins").joinpath("templates/tracker_tag.html.j2").read_text()
    written = set(re.findall(r' ([a-z][a-z-]*)="', template))
    assert " defer" in template
    assert written | {"defer", MARKER_ATTRIBUTE} == TRACKER_ATTRIBUTES


def test_a_refusal_category_says_why_it_is_refused() -> None:
    # The identifier rule alone left the reader guessing why '!analytics' is wrong.
    message = error_of(consent_manager="vanilla-cookieconsent", consent_category="!analytics")
    assert message.endswith(
        "got '!analytics': a leading '!' makes vanilla-cookieconsent run the tag when the "
        "visitor refuses the category; name the category to accept"
    )
    # Klaro's service names have no such meaning: the plain rule.
    assert error_of(consent_manager="klaro", consent_category="!x").endswith("got '!x'")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"consent_manager": "osano"},
            "consent_manager: must be one of 'none', 'vanilla-cookieconsent', 'klaro', "
            "'cookiebot', got 'osano'",
        ),
        (
            {"consent_category": "analytics"},
            "consent_category: is only read with consent_manager (one of "
            "'vanilla-cookieconsent', 'klaro', 'cookiebot'), which is not set",
        ),
        # A leading "!" makes vanilla-cookieconsent run the tag when the category is refused.
        (
            {"consent_manager": "vanilla-cookieconsent", "consent_category": "!analytics"},
            "consent_category: must be a short identifier",
        ),
        (
            {"consent_manager": "cookiebot", "consent_category": "analytics"},
            "consent_category: cookiebot's categories are preferences, statistics, marketing "
            "(comma-separated for several), got 'analytics'",
        ),
        (
            {"consent_manager": "klaro", "consent_category": 7.5},
            "consent_category: must be a text identifier, got 7.5",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(
    settings: dict[str, object], expected: str
) -> None:
    assert error_of(**settings).startswith(expected)
    assert error_of("AAE_TRACKING", **settings).startswith("AAE_TRACKING[")


# --------------------------------------------------------------------------- inject keeps gating


def test_reinjecting_without_the_setting_keeps_a_presets_gating() -> None:
    gated = inject(PAGE, render_snippet(make(consent_manager="klaro"))).html
    again = inject(gated, render_snippet(make(campaign_id="camp_2")))
    assert again.skipped_reason is None
    tracker = tracker_of(again.html)
    assert tracker["data-campaign-id"] == "camp_2"
    # Exactly the page the setting itself gives: re-running inject is safe.
    expected = inject(PAGE, render_snippet(make(campaign_id="camp_2", consent_manager="klaro")))
    assert again.html == expected.html
    assert inject(again.html, render_snippet(make(campaign_id="camp_2"))).html == again.html


def test_reinjecting_keeps_someone_elses_gating_and_drops_the_pixel_image() -> None:
    page = inject(PAGE, render_snippet(make(facebook_pixel_id=PIXEL))).html
    by_hand = page.replace(
        '<script data-aae-tracking="tracker"',
        '<script type="text/plain" data-c15t-category="measure&amp;stats" '
        'data-aae-tracking="tracker"',
    )
    again = inject(by_hand, render_snippet(make(facebook_pixel_id=PIXEL, variant="B")))
    assert again.skipped_reason is None
    tracker = tracker_of(again.html)
    assert gated_part(tracker) == {"type": "text/plain", "data-c15t-category": "measure&stats"}
    assert tracker["data-variant"] == "B"
    assert elements(again.html, "noscript") == []


def test_the_settings_gating_wins_over_the_pages() -> None:
    gated = inject(PAGE, render_snippet(make(consent_manager="klaro"))).html
    config = make(consent_manager="cookiebot", consent_category="marketing")
    tracker = tracker_of(inject(gated, render_snippet(config)).html)
    assert gated_part(tracker) == {"type": "text/plain", "data-cookieconsent": "marketing"}


def test_a_text_plain_tag_nothing_would_run_is_replaced_by_a_running_one() -> None:
    page = inject(PAGE, render_snippet(make())).html
    broken = page.replace(
        '<script data-aae-tracking="tracker"',
        '<script type="text/plain" data-aae-tracking="tracker"',
    )
    tracker = tracker_of(inject(broken, render_snippet(make())).html)
    assert "type" not in tracker


def test_xhtml_pages_keep_their_gating_too() -> None:
    first = inject_xhtml(XHTML.encode(), render_xml_snippet(make(consent_manager="cookiebot")))
    assert first.skipped_reason is None
    again = inject_xhtml(first.data, render_xml_snippet(make(campaign_id="camp_2")))
    assert again.skipped_reason is None
    text = again.data.decode()
    assert '<script type="text/plain" data-cookieconsent="statistics" data-aae-tracking=' in text
    report = audit_xhtml("a.xhtml", again.data, render_xml_snippet(make()))
    assert (report.status, report.trackers[0].campaign_id) == (GATED, "camp_2")


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize("manager", ["vanilla-cookieconsent", "klaro", "cookiebot"])
def test_check_reports_a_gated_tracker_as_gated_not_failing(manager: str) -> None:
    config = make(consent_manager=manager, facebook_pixel_id=PIXEL)
    page = inject(PAGE, render_snippet(config)).html
    report = audit_page("index.html", page.encode(), render_snippet(make()))
    assert report.status == GATED
    assert not report.failing
    assert "type='text/plain'" in str(report.reason)
    assert report.trackers[0].landing_page_id == "lp_1"


def test_check_compares_the_rest_of_a_gated_tag() -> None:
    page = inject(PAGE, render_snippet(make(consent_manager="vanilla-cookieconsent"))).html
    stale = page.replace('data-endpoint="', 'data-debug="yes" data-endpoint="')
    report = audit_page("index.html", stale.encode(), render_snippet(make()))
    assert report.status == OUTDATED
    assert "data-debug='yes' instead of 'true'" in str(report.reason)
    # Someone else's gating is not compared, the rest is.
    by_hand = inject(PAGE, render_snippet(make(facebook_pixel_id=PIXEL))).html.replace(
        '<script data-aae-tracking="tracker"',
        '<script type="text/plain" data-c15t-category="m" data-aae-tracking="tracker"',
    )
    report = audit_page("index.html", by_hand.encode(), render_snippet(make()))
    # ... its Pixel image, which nothing gates, is what inject would remove.
    assert report.status == OUTDATED
    assert "Pixel <noscript> fallback but its tracker tag is gated" in str(report.reason)
    fixed = inject(by_hand, render_snippet(make(facebook_pixel_id=PIXEL))).html
    assert audit_page("index.html", fixed.encode(), render_snippet(make())).status == GATED


def test_check_still_fails_a_text_plain_tag_without_a_manager() -> None:
    page = inject(PAGE, render_snippet(make())).html
    broken = page.replace(
        '<script data-aae-tracking="tracker"',
        '<script type="text/plain" data-aae-tracking="tracker"',
    )
    report = audit_page("index.html", broken.encode(), render_snippet(make()))
    assert (report.status, report.failing) == (UNTRACKED, True)
    assert audit_page("index.html", page.encode(), render_snippet(make())).status == TRACKED


def test_cli_flags_gate_the_pages_check_counts_them_and_inject_keeps_them(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    flags = ["--landing-page-id", "lp_1", "--api-base-url", API]
    manager = ["--consent-manager", "cookiebot", "--consent-category", "marketing"]
    result = run_cli("inject", site, *flags, *manager)
    assert result.returncode == 0, result.stderr
    tracker = tracker_of((site / "index.html").read_text("utf-8"))
    assert gated_part(tracker) == {"type": "text/plain", "data-cookieconsent": "marketing"}
    checked = run_cli("check", site)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 gated by a consent manager" in checked.stdout
    assert "OK: every page is tracked" in checked.stdout
    document = json.loads(run_cli("check", site, "--json").stdout)
    assert document["summary"]["statuses"]["gated"] == 2
    assert [page["status"] for page in document["pages"]] == ["gated", "gated"]
    # Up to date with the same flags; kept gated without them.
    assert "0 updated, 2 already up to date" in run_cli("inject", site, *flags, *manager).stdout
    assert "0 updated, 2 already up to date" in run_cli("inject", site, *flags).stdout
    result = run_cli("inject", site, *flags, "--campaign-id", "camp_2")
    tracker = tracker_of((site / "index.html").read_text("utf-8"))
    assert gated_part(tracker) == {"type": "text/plain", "data-cookieconsent": "marketing"}
    assert tracker["data-campaign-id"] == "camp_2"


def test_cli_bad_manager_exits_2_with_one_line(tmp_path: Path) -> None:
    site = small_site(tmp_path / "site")
    result = run_cli(
        "inject", site, "--landing-page-id", "lp_1", "--api-base-url", API,
        "--consent-manager", "cookiebot", "--consent-category", "stats",
    )  # fmt: skip
    assert one_error_line(result) == (
        "aae-tracking: error: --consent-category: cookiebot's categories are preferences, "
        "statistics, marketing (comma-separated for several), got 'stats'"
    )
