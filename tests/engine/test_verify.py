"""The HTML5 (Lexbor) checks: the engine's final verification, ``check``'s "would it run", AMP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.core.engine.inject import AMP_PAGE, inject, inject_bytes
from aae_tracking_plugins.core.engine.running import script_type_problem, tracker_problem
from aae_tracking_plugins.core.engine.verify import verify_insertion
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.html_oracle import browser_view
from tests.sites import PELICAN_PYTHON, run

SNIPPET = render_snippet(TrackingConfig("lp_verify", "https://api.aae.com", "camp_v"))
PIXEL = render_snippet(
    TrackingConfig("lp_verify", "https://api.aae.com", facebook_pixel_id="1234567890123456")
)
STUB, TRACKER = SNIPPET.head, SNIPPET.body
FLAGS = ["--landing-page-id", "lp_verify", "--api-base-url", "https://api.aae.com"]


def page(head: str = STUB, body: str = TRACKER, *, before: str = "", after: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body>{before}{body}{after}"


# --------------------------------------------------------------------------- verify_insertion


def test_a_well_placed_pair_is_confirmed() -> None:
    assert verify_insertion(page(), STUB, TRACKER) is None
    assert verify_insertion(page(body=PIXEL.body), PIXEL.head, PIXEL.body) is None


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ("<template>", "</template>", "not a stub then a tracker"),
        ("<svg>", "</svg>", "inside <svg>"),
        ("<math>", "</math>", "inside <math>"),
        ("<svg><foreignObject>", "</foreignObject></svg>", "inside <svg>"),
        ("<noscript>", "</noscript>", "not a stub then a tracker"),
        ("<textarea>", "</textarea>", "not a stub then a tracker"),
        ("<!--", "-->", "not a stub then a tracker"),
        ("<p title='", "'>", "not a stub then a tracker"),
    ],
)
def test_a_tracker_that_would_not_run_is_refused(before: str, after: str, reason: str) -> None:
    problem = verify_insertion(page(before=before, after=after), STUB, TRACKER)
    assert problem is not None
    assert reason in problem


def test_the_stub_must_come_first_in_head() -> None:
    late = page(head="<script>early()</script>" + STUB)
    assert verify_insertion(late, STUB, TRACKER) == (
        "an HTML5 parse puts the stub after another script"
    )
    in_body = "<html><head></head><body>" + STUB + "<p>x</p>" + TRACKER
    assert verify_insertion(in_body, STUB, TRACKER) == "an HTML5 parse puts the stub outside <head>"
    # Unless the engine put it right before the tracker on purpose (a <meta charset> to keep).
    together = "<html><head></head><body><p>x</p>" + STUB + "\n" + TRACKER
    assert verify_insertion(together, STUB, TRACKER, stub_in_head=False) is None
    assert verify_insertion(in_body, STUB, TRACKER, stub_in_head=False) == (
        "an HTML5 parse does not put the stub right before the tracker"
    )


def test_the_tracker_must_be_in_body_with_its_text_intact() -> None:
    in_head = f"<html><head>{STUB}{TRACKER}</head><body>x</body></html>"
    assert verify_insertion(in_head, STUB, TRACKER) == (
        "an HTML5 parse puts the tracker outside <body>"
    )
    changed = TRACKER.replace("()", "( )", 1)
    assert verify_insertion(page(body=changed), STUB, TRACKER) == (
        "an HTML5 parse does not see the inserted script text intact"
    )
    assert verify_insertion(page(body=TRACKER + TRACKER), STUB, TRACKER) is not None


def test_the_pixel_fallback_is_counted() -> None:
    assert verify_insertion(page(body=PIXEL.body), PIXEL.head, TRACKER) is not None


def test_unmapped_bytes_kept_as_surrogates_parse() -> None:
    assert verify_insertion(page(before="caf\udce9 "), STUB, TRACKER) is None


def test_pages_the_scan_cannot_follow_are_now_confirmed_by_the_parser() -> None:
    """No </body>, several </body>: the engine asks the parser, which confirms the spot."""
    for text in ("<p>no body end", "<body><p>a</body><p>b</body>", "<html><p>x</html>"):
        result = inject(text, SNIPPET)
        assert result.injected, (text, result.skipped_reason)
        view = browser_view(result.html)
        assert view.kinds == ["stub", "tracker"]
        assert view.tracker_runs_in_body


# --------------------------------------------------------------------------- would it run


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({}, None),
        ({"type": ""}, None),
        ({"type": " Text/JavaScript "}, None),
        ({"type": "application/ecmascript"}, None),
        ({"language": "javascript"}, None),
        ({"language": ""}, None),
        ({"type": "text/plain"}, "type='text/plain', which browsers do not run"),
        ({"type": "text/javascript; charset=utf-8"}, "which browsers do not run"),
        ({"language": "vbscript"}, "type='text/vbscript'"),
        ({"type": "module"}, 'type="module"'),
        ({"type": "MODULE"}, 'type="module"'),
        ({"nomodule": None}, "nomodule"),
    ],
)
def test_script_types(attributes: dict[str, str | None], reason: str | None) -> None:
    problem = script_type_problem(attributes)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None
        assert reason in problem


def with_tracker(attributes: str) -> str:
    return TRACKER.replace("<script ", f"<script {attributes} ", 1)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (TRACKER, None),
        (f"<template>{TRACKER}</template>", "inside <template>"),
        (f"<div><template><p>{TRACKER}</p></template></div>", "inside <template>"),
        (f"<svg>{TRACKER}</svg>", "inside <svg>"),
        (f"<noscript>{TRACKER}</noscript>", "not a script a browser runs"),
        (with_tracker('type="text/plain"'), "type='text/plain'"),
        (with_tracker("type=module"), 'type="module"'),
        # One of two that runs is enough for "would run"; two tags are reported as duplicates.
        (f"<template>{TRACKER}</template>{TRACKER}", None),
    ],
)
def test_tracker_problem(body: str, reason: str | None) -> None:
    problem = tracker_problem(page(body=body))
    if reason is None:
        assert problem is None
    else:
        assert problem is not None
        assert reason in problem


CHECK_PAGES = {
    "template.html": f"<template>{TRACKER}</template>",
    # text/plain alone: no consent manager would ever run it (with a manager's category it is
    # gated: tests/unit/test_consent_manager_settings.py).
    "plain.html": with_tracker('type="text/plain"'),
    "module.html": with_tracker('type="module"'),
    "ok.html": TRACKER,
}


def test_check_counts_only_trackers_that_run(tmp_path: Path) -> None:
    for name, body in CHECK_PAGES.items():
        (tmp_path / name).write_text(page(body=body), "utf-8")
    context = cli.check_context()
    reports = {name: cli.check_file(str(tmp_path), name, context) for name in CHECK_PAGES}
    assert {name: report.status for name, report in reports.items()} == {
        "template.html": "untracked",
        "plain.html": "untracked",
        "module.html": "untracked",
        "ok.html": "tracked",
    }
    assert "inside <template>" in str(reports["template.html"].reason)
    assert "text/plain" in str(reports["plain.html"].reason)
    assert "module" in str(reports["module.html"].reason)
    assert all(report.failing for name, report in reports.items() if name != "ok.html")


# --------------------------------------------------------------------------- AMP


AMP_PAGES = [
    "<!doctype html><html amp lang=en><head><meta charset=utf-8></head><body>x</body></html>",
    "<!doctype html><html ⚡><head></head><body>x</body></html>",
    "<!doctype html><HTML AMP=''><head></head><body>x</body></html>",
    "<!doctype html><html ⚡4email data-css-strict><head></head><body>x</body></html>",
]


@pytest.mark.parametrize("text", AMP_PAGES)
def test_amp_pages_are_left_alone_with_a_warning(text: str) -> None:
    result = inject(text, SNIPPET)
    assert (result.html, result.skipped_reason) == (text, AMP_PAGE)
    assert result.worth_a_warning
    data = text.encode()
    assert inject_bytes(data, SNIPPET).data == data


@pytest.mark.parametrize(
    "text",
    [
        "<html lang=amp><body>x</body></html>",
        "<!-- <html amp> --><html><body>x</body></html>",
        "<html><body><p amp>x</p></body></html>",
    ],
)
def test_amp_lookalikes_are_tracked(text: str) -> None:
    assert inject(text, SNIPPET).injected


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aae_tracking_plugins", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_leaves_amp_pages_alone_and_check_does_not_fail_them(tmp_path: Path) -> None:
    (tmp_path / "amp.html").write_text(AMP_PAGES[0], "utf-8")
    (tmp_path / "index.html").write_text("<html><head></head><body>x</body></html>", "utf-8")

    injected = run_cli("inject", tmp_path, "--quiet", *FLAGS)

    assert injected.returncode == 0, injected.stderr
    assert f"amp.html left untracked: {AMP_PAGE}" in injected.stderr
    assert (tmp_path / "amp.html").read_text("utf-8") == AMP_PAGES[0]
    checked = run_cli("check", tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines() == [
        f"amp.html: left-alone: {AMP_PAGE}",
        "",
        f"checked 2 HTML files in {tmp_path}: 1 tracked (0 outdated), 0 untracked, "
        "0 duplicate, 1 left alone, 0 not pages",
        "  lp_verify / (no campaign) -> https://api.aae.com/api/v1/landing-pages/events: 1 page",
        "OK: every page is tracked or left alone on purpose (see above)",
    ]
    document = json.loads(run_cli("check", tmp_path, "--json").stdout)
    assert (document["ok"], document["summary"]["failing"]) == (True, 0)


def test_mkdocs_leaves_an_amp_page_alone_with_a_warning(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "docs").mkdir(parents=True)
    (source / "mkdocs.yml").write_text(
        "site_name: T\nplugins:\n  - aae-tracking:\n      landing_page_id: lp_1\n"
        "      api_base_url: https://api.aae.com\n",
        "utf-8",
    )
    (source / "docs" / "index.md").write_text("# Home\n", "utf-8")
    (source / "docs" / "amp.html").write_text(AMP_PAGES[1], "utf-8")

    site = tmp_path / "site"
    result = run([sys.executable, "-m", "mkdocs", "build", "-d", site], cwd=source)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "amp.html").read_text("utf-8") == AMP_PAGES[1]
    assert f"amp.html left untracked: {AMP_PAGE}" in result.stderr
    assert "data-aae-tracking" in (tmp_path / "site" / "index.html").read_text("utf-8")


def test_pelican_leaves_an_amp_page_alone_with_a_warning(tmp_path: Path) -> None:
    amp = tmp_path / "amp.html"
    amp.write_text(AMP_PAGES[0], "utf-8")
    script = f"""
from aae_tracking_plugins.integrations import pelican as plugin
class FakePelican:
    settings = {{"OUTPUT_PATH": {str(tmp_path)!r},
                "AAE_TRACKING": {{"landing_page_id": "lp_1", "api_base_url": "https://a.b"}}}}
plugin.on_initialized(FakePelican())
plugin.on_content_written({str(amp)!r}, context=dict(FakePelican.settings))
"""
    result = subprocess.run(
        [str(PELICAN_PYTHON), "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert amp.read_text("utf-8") == AMP_PAGES[0]
    assert f"left untracked: {AMP_PAGE}" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "<html><head><script>a()</script><meta charset=utf-8></head><body>x",
        "<html><head><script>a()</script><meta charset=utf-8></head><body>x</body></html>",
        "<!DOCTYPE html><script>a()</script><meta charset=utf-8><p>x",
    ],
)
def test_the_stub_goes_before_a_script_that_precedes_the_charset_declaration(text: str) -> None:
    """With or without the parser's check (no </body>, one </body>), the stub runs first."""
    result = inject(text, SNIPPET)
    assert result.injected, result.skipped_reason
    assert result.html.index(STUB) < result.html.index("<script>a()")
    assert result.html.replace(STUB, "").replace(TRACKER, "") == text
