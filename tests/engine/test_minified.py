"""Pages an HTML minifier rewrote after inject: our tags are known by their marker and settings.

A minifier run after the tracker was injected (a Pelican minify plugin on ``finalized``, an HTML
minifier in a deploy step) collapses whitespace, drops optional quotes and optional tags, sorts
attributes and minifies the scripts' text. The minified forms below are written by hand after what
htmlmin, minify-html and html-minifier-terser produce. ``check`` must still call such a page
tracked (only different settings attributes make it outdated), and ``inject`` must replace our
tags, never add a second tracker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.core.engine.inject import (
    find_tracker_tags,
    inject,
    inject_bytes,
    remove_tracker,
)
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import browser_script, render_snippet, script_file
from tests.cli_helpers import FLAGS, run_cli
from tests.html_oracle import browser_view

CONFIG = TrackingConfig("lp_spring_desk", "https://api.aae.com", "camp_spring_2026")
ENDPOINT = "https://api.aae.com/api/v1/landing-pages/events"
STUB_JS = str(browser_script("stub"))
TRACKER_JS = str(browser_script("tracker"))
# What a JavaScript minifier run again over our (already minified) scripts may make of them.
STUB_REMINIFIED = STUB_JS.replace("(window);", "(window)").replace("var c=[];", "let c=[];")
TRACKER_REMINIFIED = "/* minified by the deploy step */" + TRACKER_JS.rstrip(";")
assert STUB_REMINIFIED != STUB_JS
assert TRACKER_REMINIFIED != TRACKER_JS

#: htmlmin (remove_optional_attribute_quotes, collapsed whitespace; scripts kept as they are).
HTMLMIN = (
    "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
    f"<script data-aae-tracking=stub>{STUB_JS}</script><title>Acme desk</title></head>"
    "<body><h1>Acme standing desk</h1> <p>Buy it <a href=/offer/ class=cta>now</a></p> "
    "<script data-aae-tracking=tracker data-landing-page-id=lp_spring_desk "
    f"data-campaign-id=camp_spring_2026 data-endpoint={ENDPOINT}>{TRACKER_JS}</script>"
    "</body></html>"
)
#: minify-html (optional tags dropped, scripts minified again, unquoted values).
MINIFY_HTML = (
    "<!doctype html><html lang=en><meta charset=utf-8>"
    f"<script data-aae-tracking=stub>{STUB_REMINIFIED}</script><title>Acme desk</title>"
    "<h1>Acme standing desk</h1><p>Buy it <a class=cta href=/offer/>now</a>"
    "<script data-aae-tracking=tracker data-campaign-id=camp_spring_2026 "
    f"data-endpoint={ENDPOINT} data-landing-page-id=lp_spring_desk>{TRACKER_REMINIFIED}</script>"
)
#: html-minifier-terser with sortAttributes, single quotes kept, a line break inside the tag.
TERSER = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    f"<script data-aae-tracking='stub'>{STUB_REMINIFIED}</script></head><body>"
    "<p>Acme standing desk</p><script data-campaign-id='camp_spring_2026'\n"
    f"data-aae-tracking='tracker' data-endpoint='{ENDPOINT}'\n"
    f"data-landing-page-id='lp_spring_desk'>{TRACKER_REMINIFIED}</script></body></html>"
)
#: Tags written by hand the way people type them: capitals, spaces around "=", entities.
HAND_EDITED = (
    '<HTML><HEAD><SCRIPT DATA-AAE-TRACKING = "stub" >'
    f"{STUB_JS}</SCRIPT></HEAD><BODY><P>Desk</P>\n<SCRIPT  Data-Aae-Tracking=tracker\n"
    '\tdata-landing-page-id="lp_spring_desk" data-campaign-id="camp_spring_2026" '
    'data-endpoint="https:&#x2F;&#x2F;api.aae.com/api/v1/landing-pages/events">'
    f"{TRACKER_JS}</SCRIPT></BODY></HTML>"
)
MINIFIED = {
    "htmlmin": HTMLMIN,
    "minify-html": MINIFY_HTML,
    "html-minifier-terser": TERSER,
    "hand-edited": HAND_EDITED,
}


def external_page(depth: str) -> str:
    """A strict-CSP page (external scripts) after minify-html, for a page at ``depth``."""
    stub, tracker = script_file("stub"), script_file("tracker")
    return (
        f"<!doctype html><meta charset=utf-8><script data-aae-tracking=stub "
        f"integrity={stub.integrity} src={depth}aae-tracking/{stub.name}></script>"
        "<title>Desk</title><p>Desk"
        f"<script data-aae-tracking=tracker data-endpoint={ENDPOINT} "
        f"data-landing-page-id=lp_spring_desk defer integrity={tracker.integrity} "
        f"src={depth}aae-tracking/{tracker.name}></script>"
    )


@pytest.mark.parametrize("name", MINIFIED)
def test_scanner_finds_minified_tags_by_their_marker(name: str) -> None:
    page = MINIFIED[name]
    kinds = [
        tag.attributes()["data-aae-tracking"].strip('"') for tag, _end in find_tracker_tags(page)
    ]
    assert kinds == ["stub", "tracker"]
    stripped = remove_tracker(page)
    assert "data-aae-tracking" not in stripped.lower()
    assert "AAE_TRACKING" not in stripped


@pytest.mark.parametrize("name", MINIFIED)
def test_inject_replaces_minified_tags_and_never_adds_a_second_tracker(name: str) -> None:
    page = MINIFIED[name]
    snippet = render_snippet(CONFIG)
    once = inject(page, snippet)
    assert once.injected, once.skipped_reason
    assert browser_view(once.html).kinds == ["stub", "tracker"]
    assert browser_view(once.html).tracker_runs_in_body
    assert once.html.count(snippet.body) == 1
    assert inject(once.html, snippet).html == once.html
    # Minified again after the second inject: still one tracker after a third.
    again = inject(once.html.replace(snippet.body, snippet.body.replace('"', "")), snippet)
    assert again.html == once.html


def write_pages(root: Path, pages: dict[str, str]) -> None:
    for name, text in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def test_check_calls_minified_pages_tracked(tmp_path: Path) -> None:
    write_pages(tmp_path, {f"{name}/index.html": page for name, page in MINIFIED.items()})
    write_pages(tmp_path, {"index.html": external_page(""), "a/b/c.html": external_page("../../")})

    result = run_cli("check", tmp_path, "--json")

    assert result.returncode == 0, result.stdout
    document = json.loads(result.stdout)
    statuses = {page["path"]: (page["status"], page["reason"]) for page in document["pages"]}
    assert statuses == dict.fromkeys(statuses, ("tracked", None))
    assert len(statuses) == len(MINIFIED) + 2
    assert document["summary"]["trackers"] == [
        {
            "landing_page_id": "lp_spring_desk",
            "campaign_id": "camp_spring_2026",
            "endpoint": ENDPOINT,
            "pages": len(MINIFIED),
        },
        {
            "landing_page_id": "lp_spring_desk",
            "campaign_id": None,
            "endpoint": ENDPOINT,
            "pages": 2,
        },
    ]


OLD_FILE = "tracker.0123456789.js"


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (
            HTMLMIN.replace("data-aae-tracking=tracker", "data-aae-tracking=tracker data-batch"),
            "its tracker tag is not the one of aae-tracking-plugins {v} "
            "(data-batch='' instead of 'true')",
        ),
        (
            MINIFY_HTML.replace(" data-landing-page-id=lp_spring_desk", " data-track-automation"),
            "its tracker tag's settings are not valid (landing_page_id: must be a short "
            "identifier (1-64 characters: letters, digits, '_', '-', '.', ':' (starting with a "
            "letter or digit)), got '')",
        ),
        (
            TERSER.replace("data-aae-tracking='tracker'", "data-aae-tracking='tracker' async"),
            "its tracker tag is not the one of aae-tracking-plugins {v} (async not expected)",
        ),
        (
            HTMLMIN.replace(f"data-endpoint={ENDPOINT}", "data-endpoint=https://api.aae.com/e"),
            "its tracker tag's data-endpoint 'https://api.aae.com/e' does not end with "
            "/api/v1/landing-pages/events",
        ),
        (
            external_page("").replace(" defer", ""),
            "its tracker tag is not the one of aae-tracking-plugins {v} (defer missing)",
        ),
        (
            external_page("").replace(script_file("tracker").name, OLD_FILE),
            "its tracker tag is not the one of aae-tracking-plugins {v} (src "
            f"'aae-tracking/{OLD_FILE}' instead of 'aae-tracking/{script_file('tracker').name}')",
        ),
        (
            HTMLMIN.replace(f"<script data-aae-tracking=stub>{STUB_JS}</script>", ""),
            "it has no queue stub in <head>",
        ),
        (
            MINIFY_HTML.replace(
                "<script data-aae-tracking=stub>",
                "<script data-aae-tracking=stub src=/aae-tracking/stub.js>",
            ),
            "its queue stub tag is not the one of aae-tracking-plugins {v} (src not expected)",
        ),
    ],
)
def test_check_calls_a_page_outdated_only_when_its_settings_attributes_differ(
    tmp_path: Path, page: str, reason: str
) -> None:
    write_pages(tmp_path, {"index.html": page})
    result = run_cli("check", tmp_path, "--json")
    assert result.returncode == 0, result.stdout
    (report,) = json.loads(result.stdout)["pages"]
    assert report["status"] == "outdated"
    assert report["reason"] == reason.format(v=cli.__version__) + "; re-run inject"


def test_cli_inject_over_a_minified_site_leaves_one_tracker_per_page(tmp_path: Path) -> None:
    pages = {f"{name}/index.html": page for name, page in MINIFIED.items()}
    write_pages(tmp_path, pages)
    assert cli.main(["inject", str(tmp_path), "--quiet", *FLAGS]) == 0
    first = {name: (tmp_path / name).read_bytes() for name in pages}
    for name, data in first.items():
        assert browser_view(data.decode()).kinds == ["stub", "tracker"], name
        assert remove_tracker(data.decode()) == remove_tracker(pages[name]), name
    result = run_cli("inject", tmp_path, *FLAGS)
    assert result.returncode == 0
    assert "(0 updated, 4 already up to date)" in result.stdout
    check = run_cli("check", tmp_path)
    assert check.returncode == 0
    assert "4 tracked (0 outdated)" in check.stdout


def test_inject_bytes_replaces_a_minified_tracker_in_a_legacy_encoding() -> None:
    page = HTMLMIN.replace("utf-8", "windows-1252").replace("Buy it", "Caf\xe9, 5 \u20ac")
    data = page.encode("cp1252")
    result = inject_bytes(data, render_snippet(CONFIG))
    assert result.injected
    assert result.encoding == "cp1252"
    assert browser_view(result.data.decode("cp1252")).kinds == ["stub", "tracker"]
    assert "Caf\xe9, 5 \u20ac" in result.data.decode("cp1252")
