"""The injection engine: placement as a browser parses it, byte fidelity, idempotency."""

from __future__ import annotations

import html5lib
import pytest

from aae_tracking_plugins import EventTracker
from aae_tracking_plugins.core.engine.inject import Snippet, inject, remove_tracker
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.html_oracle import browser_view

CONFIG = TrackingConfig("lp_123", "https://api.aae.com", "camp_456")
SNIPPET = render_snippet(CONFIG)


def assert_only_insertions(original: str, output: str, snippet: Snippet = SNIPPET) -> None:
    """Output = input + the two insertions, every other character unchanged."""
    assert output.count(snippet.head) == 1
    assert output.count(snippet.body) == 1
    assert output.replace(snippet.head, "", 1).replace(snippet.body, "", 1) == original


PAGES = {
    "full page": (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>T</title>\n"
        "</head>\n<body>\n<p>Hello</p>\n</body>\n</html>\n"
    ),
    "upper case and CRLF": (
        "<HTML>\r\n<HEAD>\r\n</HEAD>\r\n<BODY>\r\n<P>x\r\n</BODY\r\n>\r\n</HTML>"
    ),
    "decoy in comment": "<html><head></head><body><!-- </body> -->x</body></html>",
    "decoy in script": "<html><head></head><body><script>a='</body>'</script>x</body></html>",
    "decoy in textarea": "<body><textarea></body></textarea>x</body>",
    "decoy in attribute": "<body><div title='</body>' data-x=\"</body>\">x</div></body>",
    "decoy in noscript": "<body><noscript></body></noscript>x</body>",
    "decoy in template": "<body><template></body></template><p>x</p></body>",
    "decoy in svg": "<body><svg><style></body></style></svg><p>x</p></body>",
    "decoy in iframe srcdoc": "<body><iframe srcdoc='<body></body>'></iframe></body>",
    "decoy in style": "<head><style>/* </body> */</style></head><body>x</body>",
    "decoy in title": "<head><title></body></title></head><body>x</body>",
    "script escape states": "<body><script><!--<script></body></script>--></script>x</body>",
    "no body tags": "<!doctype html><title>t</title><p>Just a paragraph",
    "bare fragment": "<p>fragment</p>",
    "BOM": "\ufeff<!DOCTYPE html><html><head></head><body>x</body></html>",
    "XHTML prolog": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
        'Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
        "<body><p>x</p></body></html>"
    ),
    "empty body": "<html><head></head><body></body></html>",
    "two body end tags": "<html><body>a</body>b</body></html>",
    "inline svg": "<body><svg><style></style><text>x</text></svg><p>after</p></body>",
    "after </html>": "<html><body>x</body></html>\n<!-- generated -->\n",
}


@pytest.mark.parametrize("name", PAGES)
def test_tracker_runs_in_body_and_nothing_else_changes(name: str) -> None:
    page = PAGES[name]
    result = inject(page, SNIPPET)
    assert result.skipped_reason is None, result.skipped_reason
    assert_only_insertions(page, result.html)
    view = browser_view(result.html)
    assert view.kinds == ["stub", "tracker"]
    assert view.tracker_runs_in_body
    if "<head" in page.lower():
        assert view.stub_in_head


@pytest.mark.parametrize("name", PAGES)
def test_injecting_twice_gives_the_page_injecting_once_gives(name: str) -> None:
    once = inject(PAGES[name], SNIPPET).html
    assert inject(once, SNIPPET).html == once
    assert remove_tracker(once) == PAGES[name]


def test_reinjecting_with_other_ids_replaces_the_tracker() -> None:
    page = PAGES["full page"]
    first = inject(page, SNIPPET).html
    other = render_snippet(TrackingConfig("lp_999", "https://api.aae.com"))
    second = inject(first, other).html
    assert_only_insertions(page, second, other)
    assert "lp_123" not in second


def test_stub_goes_after_meta_charset_so_the_charset_stays_in_the_first_1024_bytes() -> None:
    page = "<!DOCTYPE html><html><head><meta name=x content=y><meta charset=utf-8><title>t</title>"
    output = inject(page + "</head><body></body></html>", SNIPPET).html
    assert output.index("<meta charset=utf-8>") < output.index(SNIPPET.head)
    assert output.index(SNIPPET.head) < output.index("<title>")


def test_stub_never_goes_before_the_doctype() -> None:
    page = "<!DOCTYPE html><p>no head or html tags</p>"
    output = inject(page, SNIPPET).html
    assert output.startswith("<!DOCTYPE html>" + SNIPPET.head)


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("google-site-verification: google1234.html", "no HTML markup"),
        ("<body><div class='never closed", "unclosed tag"),
        ("<frameset><frame src=a.html></frameset>", "frameset"),
    ],
)
def test_pages_we_cannot_place_safely_are_left_byte_for_byte(page: str, reason: str) -> None:
    result = inject(page, SNIPPET)
    assert result.html == page
    assert result.skipped_reason is not None
    assert reason in result.skipped_reason


@pytest.mark.parametrize(
    ("page", "before"),
    [
        ("<body>text <!-- never closed", "<!--"),
        ("<body><script>never closed", "<script>"),
        ("<body><svg><g></body>", "<svg>"),
        ("<body><p>x<template><p>y</body>", "<template>"),
        ("<body><p>x</p><!-- <script> never closed </body>", "<!--"),
    ],
)
def test_a_page_ending_inside_something_unclosed_gets_the_tracker_before_it(
    page: str, before: str
) -> None:
    """Anything appended would be swallowed; the spot right before the construct opens runs
    the tracker (refused before the engine was rebuilt on an HTML5 parser)."""
    result = inject(page, SNIPPET)
    assert result.skipped_reason is None, result.skipped_reason
    assert_only_insertions(page, result.html)
    assert result.html.index(SNIPPET.body) + len(SNIPPET.body) == result.html.index(before)
    assert browser_view(result.html).tracker_runs_in_body or "<template" in page


def test_seed_api_appends_when_there_is_no_body() -> None:
    tracker = EventTracker(api_base_url="https://api.aae.com")
    html = tracker.inject_tracking_script("<div>Landing</div>", "lp_123", "camp_456")
    assert html.startswith(SNIPPET.head + "<div>Landing</div>")
    assert html.endswith(SNIPPET.body)


def test_page_content_is_parsed_the_same_with_and_without_the_tracker() -> None:
    """Our insertions must not change how the rest of the page parses."""
    page = PAGES["full page"]
    before = html5lib.parse(page, treebuilder="lxml")
    after = html5lib.parse(inject(page, SNIPPET).html, treebuilder="lxml")
    text_before = "".join(before.getroot().itertext())
    text_after = "".join(after.getroot().itertext())
    assert (
        text_after.replace(SNIPPET.head.split(">", 1)[1].split("</script>")[0], "").replace(
            SNIPPET.body.split(">", 1)[1].split("</script>")[0], ""
        )
        == text_before
    )


def test_lxml_tree_builder_disagrees_with_browsers_after_body_end() -> None:
    """Why placement is verified by an HTML5 parser rather than lxml: libxml2 leaves content that
    follows </body> outside the body, where a browser (and html5lib) moves it into the body."""
    from lxml import html as lxml_html

    page = "<html><body><p>a</p></body><i id=late>x</i></html>"
    assert not lxml_html.document_fromstring(page).xpath("//body//i[@id='late']")
    assert html5lib.parse(page, treebuilder="lxml", namespaceHTMLElements=False).xpath(
        "//body//i[@id='late']"
    )


def test_head_only_redirect_is_left_alone_quietly_and_an_app_shell_with_a_warning() -> None:
    redirect = (
        '<!DOCTYPE html><html><head><title>Moved</title><link rel="canonical" href="/new/">'
        '<meta http-equiv="Refresh" content="0; url=/new/"></head></html>'
    )
    shell = (
        "<!doctype html><meta charset=utf-8><title>App</title>"
        "<script type=module src=/main.js></script>"
    )
    moved = inject(redirect, SNIPPET)
    assert moved.html == redirect
    assert not moved.injected
    assert not moved.worth_a_warning
    app = inject(shell, SNIPPET)
    assert app.html == shell
    assert not app.injected
    assert app.worth_a_warning
    assert "head" in (app.skipped_reason or "")
