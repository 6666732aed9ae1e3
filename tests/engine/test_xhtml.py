"""XHTML pages (``.xhtml``): placed by plain search, accepted by lxml's XML parser, run by Chromium.

The contract (docs/engine.md, "XML documents"): the stub is the first child of ``<head>``, the
tracker the last child of ``<body>``, both XHTML ``<script>`` elements of a well-formed document
with their text and attributes intact; any other result leaves the file byte-for-byte alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from aae_tracking_plugins import cli
from aae_tracking_plugins.collector import EventCollector
from aae_tracking_plugins.core.audit import (
    DUPLICATE,
    LEFT_ALONE,
    NOT_PAGE,
    OUTDATED,
    TRACKED,
    UNTRACKED,
)
from aae_tracking_plugins.core.engine.xhtml import XHTML_NAMESPACE, audit_xhtml, inject_xhtml
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import (
    browser_script,
    render_snippet,
    render_xml_snippet,
    xml_script_text,
)
from tests.conftest import BrowserPage

CONFIG = TrackingConfig("lp_xml", "https://api.aae.com", "camp_xml")
SNIPPET = render_xml_snippet(CONFIG)
X = f"{{{XHTML_NAMESPACE}}}"

STRICT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"\n'
    '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="fr">\n'
    '<head>\n<meta http-equiv="Content-Type" content="application/xhtml+xml; charset=UTF-8" />\n'
    "<title>Caf\u00e9&nbsp;cr\u00e8me</title>\n"
    "<script>/*<![CDATA[*/ if (1 < 2 && true) { window.own = 1; } /*]]>*/</script>\n"
    '</head>\n<body>\n<p>Prix&#160;: 5 \u20ac &amp; plus</p>\n<svg xmlns="http://www.w3.org/2000/svg">'
    '<circle r="1"/></svg>\n</body>\n</html>\n'
).encode()


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def ours(root: etree._Element) -> list[etree._Element]:
    return [
        e for e in root.iter() if isinstance(e.tag, str) and e.get("data-aae-tracking") is not None
    ]


def assert_placed(original: bytes, output: bytes, encoding: str = "utf-8") -> None:
    """Every original byte kept; the stub first in <head>, the tracker last in <body>."""
    head, body = SNIPPET.head.encode(encoding), SNIPPET.body.encode(encoding)
    assert output.count(head) == output.count(body) == 1
    assert output.replace(head, b"", 1).replace(body, b"", 1) == original
    root = parse(output)
    stub, tracker = ours(root)
    assert (stub.tag, tracker.tag) == (X + "script", X + "script")
    assert stub.getparent() is root.find(X + "head")
    assert root.find(X + "head")[0] is stub
    assert tracker.getparent() is root.find(X + "body")
    assert root.find(X + "body")[-1] is tracker
    assert tracker.text == f"/**/{browser_script('tracker')}/**/"  # the CDATA content, intact


# --------------------------------------------------------------------------- inject


def test_a_strict_xhtml_page_gets_both_scripts_and_keeps_every_byte() -> None:
    result = inject_xhtml(STRICT, SNIPPET)
    assert result.skipped_reason is None
    assert_placed(STRICT, result.data)
    assert inject_xhtml(result.data, SNIPPET).data == result.data  # idempotent


def test_other_ids_replace_the_tags_and_the_external_mode_writes_xml_attributes() -> None:
    tracked = inject_xhtml(STRICT, SNIPPET).data
    other = TrackingConfig("lp_other", "https://api.aae.com", inline_script=False)
    external = render_xml_snippet(other, "../")
    result = inject_xhtml(tracked, external)

    assert result.skipped_reason is None
    text = result.data.decode()
    assert "lp_xml" not in text
    assert text.count("data-aae-tracking=") == 2
    assert 'defer="defer"' in text
    assert "/*<![CDATA[*/" not in external.head + external.body
    assert text.replace(external.head, "").replace(external.body, "") == STRICT.decode()
    stub, tracker = ours(parse(result.data))
    assert stub.get("src", "").startswith("../aae-tracking/stub.")
    assert tracker.get("defer") == "defer"


def test_the_pixel_has_no_noscript_fallback_in_xml() -> None:
    """noscript has no effect in XML documents: its image would load for every visitor."""
    pixel = TrackingConfig("lp", "https://api.aae.com", facebook_pixel_id="1234567890")
    assert "<noscript" in render_snippet(pixel).body
    snippet = render_xml_snippet(pixel)
    assert "<noscript" not in snippet.body
    output = inject_xhtml(STRICT, snippet).data
    assert [e.get("data-aae-tracking") for e in ours(parse(output))] == ["stub", "tracker"]


@pytest.mark.parametrize(
    ("encoding", "declaration"),
    [
        ("utf-16-le", "\ufeff"),  # a byte order mark says UTF-16
        ("utf-16-be", "\ufeff"),
        ("iso-8859-1", '<?xml version="1.0" encoding="ISO-8859-1"?>\n'),
    ],
)
def test_the_page_keeps_its_encoding(encoding: str, declaration: str) -> None:
    page = (
        f'{declaration}<html xmlns="{XHTML_NAMESPACE}"><head><title>Caf\u00e9</title></head>'
        "<body><p>cr\u00e8me</p></body></html>"
    ).encode(encoding)
    result = inject_xhtml(page, SNIPPET)
    assert result.skipped_reason is None
    assert_placed(page, result.data, encoding)


def test_a_head_tag_in_a_comment_is_passed_over_for_the_real_one() -> None:
    page = (
        f'<html xmlns="{XHTML_NAMESPACE}"><!-- <head> was here --><head><title>t</title></head>'
        "<body><p>x</p><!-- </body> --></body></html>"
    ).encode()
    result = inject_xhtml(page, SNIPPET)
    assert result.skipped_reason is None
    assert_placed(page, result.data)


def test_entities_are_neither_resolved_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", "utf-8")
    page = (
        f'<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY s SYSTEM "{secret.as_uri()}">]>\n'
        f'<html xmlns="{XHTML_NAMESPACE}"><head></head><body><p>&s;</p></body></html>'
    ).encode()
    result = inject_xhtml(page, SNIPPET)
    assert result.skipped_reason is None
    assert_placed(page, result.data)
    assert b"TOP SECRET" not in result.data


NS = f'xmlns="{XHTML_NAMESPACE}"'
REFUSED = {
    "not well-formed": (f"<html {NS}><head></head><body><p>a & b</p></body></html>", "well-formed"),
    "undeclared entity": (f"<html {NS}><head></head><body>&nbsp;</body></html>", "well-formed"),
    "no namespace": ("<html><head></head><body></body></html>", "root element"),
    "prefixed XHTML": (
        f'<h:html xmlns:h="{XHTML_NAMESPACE}"><h:head></h:head><h:body></h:body></h:html>',
        "no <head>",
    ),
    "empty head": (f"<html {NS}><head/><body><p>x</p></body></html>", "no <head>"),
    "empty body": (f"<html {NS}><head></head><body/></html>", "no </body>"),
    "body only in a comment": (
        f"<html {NS}><head></head><!-- </body> --><body/></html>",
        "the XML parser does not see",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_page_the_xml_parser_does_not_confirm_is_left_alone(name: str) -> None:
    page, reason = REFUSED[name]
    result = inject_xhtml(page.encode(), SNIPPET)
    assert result.data == page.encode()
    assert result.skipped_reason is not None
    assert reason in result.skipped_reason
    assert result.worth_a_warning
    assert inject_xhtml(b"  \n", SNIPPET).skipped_reason == "the file is empty"


def test_a_script_text_with_a_cdata_end_is_refused() -> None:
    assert xml_script_text("a<b&&c") == "/*<![CDATA[*/a<b&&c/*]]>*/"
    with pytest.raises(ValueError, match=r"\]\]>"):
        xml_script_text("x = ']]>';")


# --------------------------------------------------------------------------- check


def tracked(page: bytes = STRICT) -> str:
    return inject_xhtml(page, SNIPPET).data.decode()


@pytest.mark.parametrize(
    ("page", "status", "reason"),
    [
        (tracked(), TRACKED, None),
        (STRICT.decode(), UNTRACKED, "no tracker"),
        (tracked().replace("</body>", f"{SNIPPET.body}</body>"), DUPLICATE, "2 tracker tags"),
        (
            tracked().replace('data-aae-tracking="tracker"', 'data-aae-tracking="tracker" x="1"'),
            OUTDATED,
            "x not expected",
        ),
        (
            tracked().replace(SNIPPET.body, f"<template>{SNIPPET.body}</template>"),
            UNTRACKED,
            "inside <template>",
        ),
        (
            tracked().replace(
                'data-aae-tracking="tracker"', 'type="text/plain" data-aae-tracking="tracker"'
            ),
            UNTRACKED,
            "text/plain",
        ),
        (
            tracked().replace("</body>", '<noscript data-aae-tracking="pixel"></noscript></body>'),
            OUTDATED,
            "XML documents ignore",
        ),
        (REFUSED["not well-formed"][0], LEFT_ALONE, "not well-formed"),
        ("", NOT_PAGE, "the file is empty"),
    ],
    ids=[
        "tracked",
        "untracked",
        "duplicate",
        "outdated",
        "template",
        "text/plain",
        "pixel noscript",
        "left alone",
        "empty",
    ],
)
def test_check_classifies_xhtml_pages(page: str, status: str, reason: str | None) -> None:
    report = audit_xhtml("p.xhtml", page.encode(), SNIPPET)
    assert report.status == status, report
    if reason is None:
        assert report.reason is None
    else:
        assert report.reason is not None
        assert reason in report.reason


def test_cli_tracks_and_checks_xhtml_files(tmp_path: Path) -> None:
    (tmp_path / "a.xhtml").write_bytes(STRICT)
    (tmp_path / "B.XHT").write_bytes(STRICT)
    (tmp_path / "broken.xhtml").write_bytes(REFUSED["not well-formed"][0].encode())
    flags = ["--landing-page-id", "lp_xml", "--campaign-id", "camp_xml"]
    assert (
        cli.main(["inject", str(tmp_path), "-q", *flags, "--api-base-url", "https://api.aae.com"])
        == 0
    )
    assert_placed(STRICT, (tmp_path / "a.xhtml").read_bytes())
    assert_placed(STRICT, (tmp_path / "B.XHT").read_bytes())
    context = cli.check_context()
    assert cli.check_file(str(tmp_path), "a.xhtml", context).status == TRACKED
    assert cli.check_file(str(tmp_path), "broken.xhtml", context).status == LEFT_ALONE


# --------------------------------------------------------------------------- Chromium


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "external"])
def test_chromium_runs_the_tracker_of_an_xhtml_page_served_as_xml(
    inline: bool,
    tmp_path: Path,
    collector: EventCollector,
    serve_dir: Callable[[str | Path], str],
    browser_page: BrowserPage,
) -> None:
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs/page.xhtml").write_bytes(STRICT)
    argv = [
        "inject",
        str(site),
        "-q",
        "--landing-page-id",
        "lp_xml",
        "--api-base-url",
        collector.url,
    ]
    assert cli.main(argv + ([] if inline else ["--no-inline-script"])) == 0

    url = serve_dir(site) + "/docs/page.xhtml"
    response = browser_page.page.goto(url)
    assert response is not None
    assert response.headers["content-type"] == "application/xhtml+xml"
    assert browser_page.page.evaluate("document.contentType") == "application/xhtml+xml"
    assert browser_page.page.evaluate("window.own") == 1  # the page's own CDATA script ran too

    (event,) = collector.wait_for_count(1, "PageView")
    assert event["landing_page_id"] == "lp_xml"
    assert event["event_data"]["url"] == url
    assert browser_page.errors == []
