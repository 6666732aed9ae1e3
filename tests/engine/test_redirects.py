"""Redirect pages are not visits: left untracked and quiet, and never failed by ``check``.

A redirect page is one whose first valid ``<meta http-equiv="refresh">`` (in ``<head>`` or
anywhere a browser honours it) has a URL part (HTML standard, "shared declarative refresh
steps"). Generators give such pages a fallback body ("this page has moved, continue here"), so
"has no body" is not the test. A refresh without a URL only reloads the page: a normal page. The
shapes below are what the generators write; Chromium confirms which of them navigate away.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aae_tracking_plugins import cli
from aae_tracking_plugins.core.engine.inject import (
    HEAD_ONLY,
    REDIRECT,
    inject,
    inject_bytes,
    refresh_url,
)
from aae_tracking_plugins.core.engine.verify import page_facts, parse
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.cli_helpers import FLAGS, run_cli
from tests.html_oracle import browser_view

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Route

SNIPPET = render_snippet(TrackingConfig("lp_1", "https://api.aae.com"))


def redirect_of(page: str) -> str | None:
    """Where the page's meta refresh sends the visitor, read from its HTML5 parse."""
    return page_facts(parse(page)).redirect


NEW = "https://example.com/new/"

#: Redirect pages as generators and people write them: relative path -> page.
REDIRECTS = {
    # mkdocs-redirects (its HTML template, with the fallback body).
    "mkdocs-redirects": (
        '<!doctype html>\n<html lang="en">\n<head>\n    <meta charset="utf-8">\n'
        "    <title>Redirecting...</title>\n"
        f'    <link rel="canonical" href="{NEW}">\n    <meta name="robots" content="noindex">\n'
        '    <script>var anchor=window.location.hash.substr(1);location.href="'
        f'{NEW}"+(anchor?"#"+anchor:"")</script>\n'
        f'    <meta http-equiv="refresh" content="0; url={NEW}">\n</head>\n<body>\n'
        "Redirecting...\n</body>\n</html>\n"
    ),
    # Hugo's alias template (head only).
    "hugo-alias": (
        f'<!DOCTYPE html><html lang="en-us"><head><title>{NEW}</title>'
        f'<link rel="canonical" href="{NEW}"><meta name="robots" content="noindex">'
        f'<meta charset="utf-8"><meta http-equiv="refresh" content="0; url={NEW}"></head></html>'
    ),
    # jekyll-redirect-from: no <head> or <body> tags, a heading and a link as the body.
    "jekyll-redirect-from": (
        '<!DOCTYPE html>\n<html lang="en-US">\n  <meta charset="utf-8">\n'
        "  <title>Redirecting&hellip;</title>\n"
        f'  <link rel="canonical" href="{NEW}">\n  <script>location="{NEW}"</script>\n'
        f'  <meta http-equiv="refresh" content="0; url={NEW}">\n'
        '  <meta name="robots" content="noindex">\n  <h1>Redirecting&hellip;</h1>\n'
        f'  <a href="{NEW}">Click here if you are not redirected.</a>\n</html>\n'
    ),
    # Hand-written: a delay, quoted URL, capitals, and a body that explains the move.
    "hand-written": (
        "<!DOCTYPE html>\n<html>\n<head><meta charset='utf-8'><title>Moved</title>\n"
        f"<META HTTP-EQUIV=Refresh CONTENT=\"5;URL='{NEW}'\">\n</head>\n<body>\n"
        f"<p>This page has moved. <a href='{NEW}'>Continue here</a>.</p>\n</body>\n</html>\n"
    ),
    # Hand-written, the refresh in the body (browsers honour it there too), comma separator.
    "refresh in the body": (
        "<html><body><p>Gone to the new site.</p>"
        f'<meta http-equiv="refresh" content="0,{NEW}"></body></html>'
    ),
    # A <meta> inside inline svg breaks out of it into the HTML body, and is honoured.
    "refresh inside svg": (
        '<html><body><svg viewBox="0 0 1 1"><meta http-equiv="refresh" content="0; url=/new/">'
        "</svg><p>Moved</p></body></html>"
    ),
    # Browsers ignore a refresh they cannot parse, and honour the next one.
    "refresh after an invalid one": (
        '<html><head><meta http-equiv="refresh" content="soon">'
        f'<meta http-equiv="refresh" content="1; url={NEW}"></head><body>Moved</body></html>'
    ),
    # A reload, then a refresh with a URL: the standard follows the first, Chromium the one
    # due first (and so navigates away).
    "a reload, then a refresh with a URL": (
        '<html><head><meta http-equiv="refresh" content="600">'
        f'<meta http-equiv="refresh" content="0; url={NEW}"></head><body>x</body></html>'
    ),
    "entity in the content": (
        '<html><head><meta http-equiv="refresh" content="0&#59; url=&quot;/new/&quot;">'
        "</head><body>Moved</body></html>"
    ),
}

#: Pages that look like redirects but are not: they are visits and get tracked.
NOT_REDIRECTS = {
    "reload only": (
        '<html><head><meta http-equiv="refresh" content="300"></head>'
        "<body><p>Live scores</p></body></html>"
    ),
    "reload with an empty url": (
        "<html><head><meta http-equiv=refresh content='0; url='></head><body>x</body></html>"
    ),
    "invalid content": (
        '<html><head><meta http-equiv="refresh" content="url=/new/"></head><body>x</body></html>'
    ),
    "no content": '<html><head><meta http-equiv="refresh"></head><body>x</body></html>',
    "in noscript": (
        "<html><head><noscript>"
        f'<meta http-equiv="refresh" content="0; url={NEW}"></noscript></head>'
        "<body><p>App</p></body></html>"
    ),
    "in a template": (
        f'<html><body><template><meta http-equiv="refresh" content="0; url={NEW}"></template>'
        "<p>x</p></body></html>"
    ),
    "in a comment": (
        f'<html><head><!-- <meta http-equiv="refresh" content="0; url={NEW}"> --></head>'
        "<body>x</body></html>"
    ),
    "in a script": (
        f'<html><head><script>var m=\'<meta http-equiv="refresh" content="0; url={NEW}">\''
        "</script></head><body>x</body></html>"
    ),
    "other http-equiv": (
        '<html><head><meta http-equiv="content-security-policy" content="0; url=/x">'
        "</head><body>x</body></html>"
    ),
    "name=refresh": '<html><head><meta name=refresh content="0; url=/x"></head><body>x</body>',
}


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("0; url=/new/", "/new/"),
        ("0;URL=/new/", "/new/"),
        ("5;URL='/new/'", "/new/"),
        ('0; url="/new/" trailing', "/new/"),
        ("0 ; Url = /new/", "/new/"),
        ("0,/new/", "/new/"),
        ("0 /new/", "/new/"),
        ("1.5; url=/new/", "/new/"),
        (".5;url=/new/", "/new/"),
        ("0; /new/?a=1;b=2", "/new/?a=1;b=2"),
        ("0; urlx", "urlx"),  # no "=": the whole rest is the URL
        ("0; u", "u"),
        ("5", ""),
        ("  5  ", ""),
        ("0;", ""),
        ("0; url=", ""),
        ("0; url=''", ""),
        ("soon", None),
        ("url=/new/", None),
        ("5x; url=/new/", None),
        ("", None),
    ],
)
def test_refresh_url_follows_the_shared_declarative_refresh_steps(
    content: str, url: str | None
) -> None:
    assert refresh_url(content) == url


@pytest.mark.parametrize("name", REDIRECTS)
def test_redirect_pages_are_left_alone_quietly(name: str) -> None:
    page = REDIRECTS[name]
    assert redirect_of(page) is not None
    result = inject(page, SNIPPET)
    assert result.html == page
    assert result.skipped_reason == REDIRECT
    assert not result.worth_a_warning
    data = page.encode("utf-8")
    as_bytes = inject_bytes(data, SNIPPET)
    assert (as_bytes.data, as_bytes.skipped_reason) == (data, REDIRECT)


@pytest.mark.parametrize("name", NOT_REDIRECTS)
def test_pages_that_do_not_redirect_are_tracked(name: str) -> None:
    page = NOT_REDIRECTS[name]
    assert redirect_of(page) is None
    result = inject(page, SNIPPET)
    assert result.injected, result.skipped_reason
    assert browser_view(result.html).tracker_runs_in_body


def test_a_head_only_page_that_only_reloads_is_warned_about() -> None:
    page = '<!doctype html><title>Status</title><meta http-equiv="refresh" content="30">'
    result = inject(page, SNIPPET)
    assert result.skipped_reason == HEAD_ONLY
    assert result.worth_a_warning


def test_cli_inject_and_check_treat_redirects_as_not_pages(tmp_path: Path) -> None:
    for name, page in {**REDIRECTS, "page": NOT_REDIRECTS["reload only"]}.items():
        path = tmp_path / name.replace(" ", "-") / "index.html"
        path.parent.mkdir()
        path.write_text(page, "utf-8")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*.html")}

    injected = run_cli("inject", tmp_path, *FLAGS)

    assert injected.returncode == 0
    assert injected.stderr == ""  # quiet: no warning for a redirect
    assert injected.stdout.startswith(
        "tracked 1 page (1 updated, 0 already up to date), left 0 alone, "
        f"{len(REDIRECTS)} not pages"
    )
    for path, data in before.items():
        if path.parent.name != "page":
            assert path.read_bytes() == data, path
    checked = run_cli("check", tmp_path, "--json")
    assert checked.returncode == 0, checked.stdout
    reports = {page["path"]: page for page in json.loads(checked.stdout)["pages"]}
    assert reports.pop("page/index.html")["status"] == "tracked"
    assert {(page["status"], page["reason"]) for page in reports.values()} == {
        ("not-a-page", REDIRECT)
    }


def test_check_never_fails_a_redirect_page_that_an_older_version_tracked(tmp_path: Path) -> None:
    page = REDIRECTS["mkdocs-redirects"]
    old = page.replace("</head>", SNIPPET.head + "</head>").replace(
        "</body>", SNIPPET.body + "</body>"
    )
    (tmp_path / "index.html").write_text(old, "utf-8")
    checked = run_cli("check", tmp_path, "--json")
    assert checked.returncode == 0
    (report,) = json.loads(checked.stdout)["pages"]
    assert report["status"] == "not-a-page"
    assert report["reason"] == REDIRECT + "; it carries 1 tracker tag"
    assert cli.main(["inject", str(tmp_path), "--quiet", *FLAGS]) == 0
    assert (tmp_path / "index.html").read_text("utf-8") == old  # byte for byte


# ------------------------------------------------------------------ Chromium decides

ORIGIN = "http://redirect.test"
LANDED = ORIGIN + "/landed.html"


@pytest.fixture(scope="module")
def chromium(browser: Browser) -> Iterator[tuple[BrowserContext, dict[str, str]]]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    pages: dict[str, str] = {LANDED: "<p>landed</p>"}
    served: set[str] = set()

    def serve(route: Route) -> None:
        url = route.request.url.split("#")[0].split("?")[0]
        if url in served and url != LANDED:
            # A page that refreshes itself (a refresh without a URL) would reload in a tight
            # loop: a 204 answer ends each reload without leaving the page.
            route.fulfill(status=204)
        elif url in pages:
            served.add(url)
            route.fulfill(status=200, body=pages[url], headers={"Content-Type": "text/html"})
        else:
            route.abort()

    context.route("**/*", serve)
    try:
        yield context, pages
    finally:
        context.close()


def _for_chromium(page: str) -> str:
    """The page with its refresh due at once and pointing at the test origin, scripts that
    navigate by themselves removed (only the meta refresh is judged)."""
    page = page.replace(NEW, LANDED).replace("/new/", LANDED).replace("5;URL", "0;URL")
    page = page.replace("1; url=", "0; url=")
    for script in ('location.href="', 'location="'):
        page = page.replace(script, 'var ignored="')
    return page


@pytest.mark.parametrize(
    ("name", "page"),
    [*REDIRECTS.items(), *NOT_REDIRECTS.items()],
    ids=[*REDIRECTS, *NOT_REDIRECTS],
)
def test_chromium_navigates_away_exactly_from_the_pages_called_redirects(
    chromium: tuple[BrowserContext, dict[str, str]], name: str, page: str
) -> None:
    context, pages = chromium
    served = _for_chromium(page)
    url = f"{ORIGIN}/{len(pages)}.html"
    pages[url] = served
    tab = context.new_page()  # a tab of its own: no earlier page's refresh can reach it
    try:
        tab.goto(url, wait_until="load")
        if name in REDIRECTS:
            assert redirect_of(served) is not None
            tab.wait_for_url(LANDED, timeout=5_000)
        else:
            assert redirect_of(served) is None
            tab.wait_for_timeout(1_500)  # a refresh due at 0 s would have fired by now
            assert tab.url == url, served
    finally:
        tab.close()
