"""What the engine tests share: our two snippets, the named pages, and the corpus.

The named pages (:data:`CONTRACT_PAGES`, :data:`SKIP_ALLOWED_PAGES`, :data:`FIXED_BUGS`) are
checked with html5lib by tests/engine/test_engine_properties.py and loaded in Chromium by
test_engine_browser_oracle.py; the corpus pages (tests/corpus/, :func:`corpus_params`) are
injected by test_engine_corpus.py and loaded in Chromium by the oracle too.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aae_tracking_plugins.core.engine.inject import Snippet
from aae_tracking_plugins.core.settings import TrackingConfig
from aae_tracking_plugins.core.tags import render_snippet
from tests.sites import TESTS

SNIPPET = render_snippet(TrackingConfig("lp_1", "https://api.aae.com"))
OTHER_SNIPPET = render_snippet(TrackingConfig("lp_other_999", "https://other.example", "camp_7"))


def abbreviate(page: str, snippet: Snippet = SNIPPET) -> str:
    """``page`` with our two tags shortened, for readable failure reports."""
    shorter = page.replace(snippet.head, "\u00abSTUB\u00bb")
    return shorter.replace(snippet.body, "\u00abTRACKER\u00bb")


# ------------------------------------------------------------------------------ fixed bugs


@dataclass(frozen=True)
class KnownBug:
    page: str
    what: str


#: Counterexamples the property tests found in earlier versions of the engine, fixed since (by
#: a correct placement or by leaving the page alone): plain regression tests now.
FIXED_BUGS = {
    "unquoted value ending in a slash": KnownBug(
        "<body><svg x=1/><style><!--</style><p>x</p></body>-->",
        "'<svg x=1/>' is not self-closing (the '/' belongs to the unquoted value), so the svg is "
        "open and its <style> is markup: the '<!--' swallows </body>. The engine took the svg "
        "for self-closed and the <style> for raw text, and the tracker went into the comment",
    ),
    "integration-point-end-tag-ignored": KnownBug(
        "<svg><title><b></title><template></svg>",
        "with an HTML element (<b>) open inside an svg <title>, <desc> or <foreignObject>, the "
        "browser ignores the point's end tag (it reaches a 'special' element first) and stays "
        "inside; the scanner closed the point, took the later <template> for an svg element "
        "and </svg> for the end of the svg, and appended the tracker at EOF, inside the HTML "
        "<template> (Chromium: no tracker in the document). HTML elements inside integration "
        "points are now followed; this page ends inside the <template> and is left alone",
    ),
    "svg template closed from its desc": KnownBug(
        "<svg><template><desc></template>",
        "</template> in the <desc> of an svg <template> closes both and stays in the svg; the "
        "engine took the svg for closed and appended an SVG <script>",
    ),
    "nested template in the head": KnownBug(
        "<template><template></template>x</template>",
        "the head-only check stepped over a head <template> only up to the first </template>, "
        "took the outer template's content for body content and put the tracker into <head>",
    ),
    "bogus comment before the body": KnownBug(
        "</ x></body>",
        "a bogus comment ('</ x>', '</3>', '</>') before any body content was taken for text "
        "that starts the body; the tracker before </body> went into <head>",
    ),
    "mglyph in a MathML text integration point": KnownBug(
        "<math><mi><mglyph><style><!--</style></mglyph></mi></math></body>-->",
        "<mglyph>/<malignmark> in <mi> stay MathML with their content: <style> is MathML and "
        "'<!--' a real comment swallowing </body> and the tracker (or a MathML <script>)",
    ),
    "head-only page": KnownBug(
        "<title>t</title>",
        "the tracker was appended at EOF while the parser was still in <head>",
    ),
    "head-only page closed by </html>": KnownBug(
        "<html><head><title>t</title></head></html>",
        "'after head' mode put the tracker back into <head> (a redirect page)",
    ),
    "doctype only": KnownBug("<!DOCTYPE html>", "both scripts went into <head>"),
    "</body> before any body content": KnownBug(
        "</body><p>x</p>", "the tracker before the only </body> went into the implied <head>"
    ),
    "</body> inside <head>": KnownBug(
        "<head></body><title>t</title></head><p>x",
        "a stray </body> in <head> was taken as the body's end; the tracker ran in <head>",
    ),
    "svg end tag of an svg element": KnownBug(
        "<p><svg><feDropShadow></feDropShadow></html>",
        "</feDropShadow> closes the svg element of that name; the scanner left the svg and the "
        "tracker became an SVG <script>",
    ),
    "svg <style> in an unclosed svg": KnownBug(
        "<p>x</p><svg><style></style>",
        "after </style> the scanner left the (still open) svg; the tracker became an SVG script",
    ),
    "unmatched end tag in svg": KnownBug(
        "<p><svg></section>",
        "browsers ignore </section> in <svg>; the scanner left the svg (SVG <script>)",
    ),
    "annotation-xml without an HTML encoding": KnownBug(
        "<math><annotation-xml><style><!--</style></annotation-xml></math></body>-->",
        "<annotation-xml> is an HTML integration point only with encoding=text/html or "
        "application/xhtml+xml: its <style> is MathML and '<!--' a real comment",
    ),
    "CDATA in svg foreignObject": KnownBug(
        "<svg><foreignObject><![CDATA[ > </body> ]]>",
        "'<![CDATA[' opens a CDATA section while the current node is an svg element, also an "
        "integration point; the scanner read a bogus comment ending at the first '>'",
    ),
    "CDATA in MathML mi": KnownBug(
        "<math><mi><![CDATA[ > </body> ]]>", "the same in MathML <mi> (tracker was CDATA text)"
    ),
    "template closed by an svg end tag": KnownBug(
        "<p>x</p><template><svg><template></template>",
        "in <svg>, </template> closes the svg element <template>, not the HTML <template>; the "
        "tracker went into template content",
    ),
    "unterminated quote in svg": KnownBug(
        "<head></head><body><svg><path d='M0 0></svg><p>x</p></body>",
        "a quote that never closes runs to EOF in browsers; inside svg the scanner ended the tag "
        "at the first '>' and skipped the lxml check: tracker inside the attribute, DOM garbage",
    ),
    "svg inside math": KnownBug(
        "<math><svg><title><style><!--</style></title></svg></math></body>-->",
        "<svg> directly in <math> is a MathML element: its <title> is no integration point",
    ),
    "math inside svg": KnownBug(
        "<svg><math><mi><style><!--</style></mi></math></svg></body>-->",
        "<math> directly in <svg> is an SVG element: its <mi> is no text integration point",
    ),
    "</p> in svg in a template": KnownBug(
        "<p>x<template><svg></p><template></template></body>",
        "</p> leaves the svg (HTML standard); the scanner stopped at the template and stayed in "
        "svg, then closed the outer template at the inner </template>",
    ),
}


# ------------------------------------------------------------------ explicit contract pages

#: The pages the issue names: each must get a running tracker, with every decoy ignored.
CONTRACT_PAGES = {
    "two </body>": "<html><body><p>a</p></body><p>b</p></body></html>",
    "no <body>": "<!DOCTYPE html><html><head><title>t</title></head><p>text</p></html>",
    "bare fragment": "<p>fragment</p>",
    "BOM": "\ufeff<!DOCTYPE html><html><head></head><body><p>x</p></body></html>",
    "XHTML prolog": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 '
        'Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
        "<body><p>x</p></body></html>"
    ),
    "empty body": "<!DOCTYPE html><html><head><title>t</title></head><body></body></html>",
    "</body> in a comment": "<body><p>x</p><!-- </body> --></body>",
    "</body> in a comment, unclosed <!-->": "<body><!--></body>--><p>x</p></body>",
    "</body> in a script": "<body><script>var s = '</body>';</script><p>x</p></body>",
    "</body> in a double-escaped script": (
        "<body><script><!--<script></body></script>--></script><p>x</p></body>"
    ),
    "</body> in a template": "<body><template></body></template><p>x</p></body>",
    "</body> in a textarea": "<body><textarea></body></textarea><p>x</p></body>",
    "</body> in noscript": "<body><noscript></body></noscript><p>x</p></body>",
    "</body> in noscript, last": "<body><p>x</p></body><noscript></body></noscript>",
    "</body> in noscript in head": (
        "<html><head><noscript></body><p>x</noscript></head><body><p>y</p></body></html>"
    ),
    "</body> in iframe srcdoc": (
        '<body><iframe srcdoc="<p>x</p></body></html>"></iframe><p>y</p></body>'
    ),
    "</body> in iframe content": "<body><iframe></body></iframe><p>y</p></body>",
    "</body> in an attribute value": (
        "<body><div title='</body>' data-x=\"</body>\">x</div><a href=/a?b=</body>y</a></body>"
    ),
    "</body> in inline svg": (
        "<body><svg viewBox='0 0 8 8'><style></body></style><title></body></title>"
        "<![CDATA[</body>]]></svg><p>x</p></body>"
    ),
    "</body> in svg foreignObject": (
        "<body><svg><foreignObject><p>x</p></body></foreignObject></svg><p>y</p></body>"
    ),
    "HTML labels in svg foreignObject (diagram export)": (
        "<body><svg><g><foreignObject><div><div>Label<br/>two</div></div></foreignObject>"
        "<text>x</text></g></svg><p>after</p></body>"
    ),
    "svg end tags that close more than the current element": (
        "<body><svg><a></svg><svg><title><svg></title></svg><svg><g><foo></g></svg>"
        "<svg><foo>x</foo></svg><p>y</p></body>"
    ),
    "less common svg and MathML elements": (
        "<body><svg><hatch></hatch><solidcolor></solidcolor><discard></discard></svg>"
        "<math><mrow><mprescripts/><none/></mrow><mlongdiv></mlongdiv></math><p>y</p></body>"
    ),
    "control characters and noncharacters": "\x1f<?><body>\x00<p>\x0bx\ufffe</p>\f</body>",
    "upper case": "<HTML><HEAD></HEAD><BODY><P>x</P></BODY></HTML>",
    "across CRLF lines": "<html>\r\n<head>\r\n</head>\r\n<body>\r\n<p>x\r\n</body\r\n>\r\n</html>",
    "whitespace in the end tag": "<body><p>x</p></body \n>",
    "</p> leaves inline svg": "<body><svg><g></p><style><!--</style><p>x</p></body>-->",
    "noscript in head holding body tags": (
        "<html><head><noscript></head><body><p>x</p></noscript><title>t</title></head>"
        "<body><p>y</p></body></html>"
    ),
    "NOSCRIPT in upper case": "<BODY><NOSCRIPT></BODY></NOSCRIPT ><P>x</P></BODY>",
    "decoys in upper case": (
        "<body><!-- </BODY> --><script>var s = '</BODY>';</script><TEXTAREA></BODY></TEXTAREA>"
        "<p>x</p></body>"
    ),
    "decoys across CRLF lines": (
        "<body>\r\n<!--\r\n</body\r\n>\r\n-->\r\n<div\r\ntitle='\r\n</body>'>\r\nx</div>\r\n"
        "</body>\r\n"
    ),
    "noscript swallowing markup": (
        "<body><noscript><p></noscript><script>var a = '</noscript>';</script><p>x</p></body>"
    ),
}


#: Legal pages a browser runs the tracker in, which the engine may leave alone (a quality
#: issue, not a contract breach): the contract holds either way. The scanner engine left all of
#: them alone; since placement is verified by an HTML5 parse, all but the unclosed quote are
#: tracked (``TRACKED_SINCE_THE_PARSE``).
SKIP_ALLOWED_PAGES = {
    # lxml read <noscript> with scripting off: for it the '<!--' opened a comment that swallowed
    # the tracker; a browser reads the noscript as raw text.
    "noscript holding a comment opener": "<body><noscript><!--</noscript><p>x</p></body><!-- -->",
    # A typo'd quote that never closes: browsers drop the rest of the page as one broken tag
    # (no candidate spot escapes it: the tracker is not placed before an unclosed tag).
    "unclosed attribute quote": "<head></head><body><div class='x>y</div><p>z</p></body>",
    # The open <span> makes the browser ignore </foreignObject>, </svg> and </body>: the page
    # ends inside the svg. The tracker goes before the <svg>.
    "HTML element left open in svg foreignObject": (
        "<body><svg><foreignObject><span>x</foreignObject></svg><p>y</p></body>"
    ),
    "HTML element left open in svg desc, then a comment to the end": (
        "\ufeff<html><head></head><body><svg><desc><b></desc></html><!-- never closed </body>"
    ),
    # A <div> closes the open <p> inside the foreignObject: the scanner did not follow that.
    "implied end tags in svg foreignObject": (
        "<body><svg><foreignObject><p>a<div>b</div></foreignObject></svg><p>c</p></body>"
    ),
    "misnested formatting in svg desc": (
        "<body><svg><desc><b><i>x</b>y</i></desc></svg><p>z</p></body>"
    ),
}


# ---------------------------------------------------------------------------------- corpus

CORPUS = TESTS / "corpus"
PAGES = sorted(path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*.html"))

#: Ordinary pages the engine currently leaves alone: a quality bug (the tracker would run at the
#: body's end, checked by hand with html5lib), kept as strict xfails so a fix is noticed.
REFUSED: dict[str, str] = {
    # None at the moment. A diagrams.net (draw.io) diagram pasted inline (labels are HTML <div>s
    # in svg <foreignObject>) was refused until HTML elements inside integration points were
    # followed; it is now injected and checked like every other page.
}


def corpus_params() -> list[object]:
    """Every corpus page; the ones in ``REFUSED`` as strict xfails."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=REFUSED[name]))
        if name in REFUSED
        else name
        for name in PAGES
    ]
