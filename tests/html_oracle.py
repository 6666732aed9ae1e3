"""HTML5-compliant oracles (html5lib) for where a browser puts the scripts we insert.

:func:`browser_view` parses with html5lib's defaults; :func:`scripting_view` as a browser that
runs scripts does (``<noscript>`` as raw text), taught the one current foreign-content rule
html5lib lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import html5lib
from lxml import etree

from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE

HTML_NS = "{http://www.w3.org/1999/xhtml}"
# Scripts below these never run (or run without document.currentScript, for SVG scripts).
_INERT = {f"{HTML_NS}template", f"{HTML_NS}noscript", f"{HTML_NS}iframe", f"{HTML_NS}textarea"}


@dataclass
class Placement:
    kinds: list[str]
    stub_in_head: bool
    tracker_runs_in_body: bool


_NOT_XML = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(page: str) -> str:
    """``page`` with the characters an lxml tree cannot hold replaced, structure unchanged.

    The HTML tokenizer treats control characters, noncharacters and lone surrogates as ordinary
    characters (never as delimiters), so U+FFFD in their place parses into the same elements; a
    form feed is HTML whitespace and becomes a space. A browser's decoder drops the byte order
    mark before parsing; html5lib would keep it on text input.
    """
    return _NOT_XML.sub("\ufffd", page.removeprefix("\ufeff").replace("\f", " "))


def browser_view(page: str) -> Placement:
    """Parse like a browser (scripting enabled) and report where our scripts ended up."""
    tree = html5lib.parse(xml_safe(page), treebuilder="lxml", namespaceHTMLElements=True)
    scripts = [
        element
        for element in tree.iter(f"{HTML_NS}script")
        if element.get(MARKER_ATTRIBUTE) is not None
    ]
    kinds = [str(element.get(MARKER_ATTRIBUTE)) for element in scripts]

    def ancestors(element: etree._Element) -> list[str]:
        return [str(a.tag) for a in element.iterancestors()]

    stub_in_head = bool(scripts) and f"{HTML_NS}head" in ancestors(scripts[0])
    runs = False
    if kinds == ["stub", "tracker"]:
        chain = ancestors(scripts[1])
        runs = (
            f"{HTML_NS}body" in chain
            and not _INERT.intersection(chain)
            and all(tag.startswith(HTML_NS) for tag in chain)
        )
    return Placement(kinds, stub_in_head, runs)


# ---------------------------------------------------------------- scripting enabled

_HTML_PARSER: html5lib.HTMLParser | None = None


def _html5_parser() -> html5lib.HTMLParser:
    """html5lib, brought up to the current HTML standard where it matters here.

    html5lib predates one rule that Chromium follows: in svg/math content, an end tag ``</p>`` or
    ``</br>`` leaves the foreign content (pops up to the nearest HTML element or integration
    point) and is reprocessed as HTML. Without it html5lib would report trackers as swallowed
    where a browser runs them.
    """
    global _HTML_PARSER
    if _HTML_PARSER is None:
        parser = html5lib.HTMLParser(
            tree=html5lib.getTreeBuilder("lxml"), namespaceHTMLElements=True
        )
        foreign = type(parser.phases["inForeignContent"])

        class CurrentForeignContent(foreign):  # type: ignore[misc, valid-type]
            __slots__ = ()

            def processEndTag(self, token: dict[str, object]) -> object:  # noqa: N802
                if token["name"] not in ("p", "br"):
                    return super().processEndTag(token)
                stack = self.tree.openElements
                while not (
                    stack[-1].namespace == self.tree.defaultNamespace
                    or self.parser.isHTMLIntegrationPoint(stack[-1])
                    or self.parser.isMathMLTextIntegrationPoint(stack[-1])
                ):
                    stack.pop()
                # Reprocessed by the insertion mode's own (HTML) rules, not the dispatcher.
                return self.parser.phase.processEndTag(token)

        parser.phases["inForeignContent"] = CurrentForeignContent(parser, parser.tree)
        _HTML_PARSER = parser
    return _HTML_PARSER


@dataclass
class View:
    kinds: list[str]  # data-aae-tracking of the HTML <script> elements, in tree order
    stub_runs: bool
    tracker_runs_in_body: bool
    #: Where the tracker element is: "body", "head", "foreign" (an svg/MathML element), "other",
    #: or "missing" (no element: swallowed as text or comment).
    tracker_where: str = "missing"


def scripting_view(page: str) -> View:
    """Where our scripts end up when a browser with scripting ENABLED parses ``page``.

    Unlike ``browser_view`` this reads ``<noscript>`` as raw text, as a browser that runs scripts
    does, and accepts an HTML ``<script>`` inside an svg ``<foreignObject>``: it is an HTML
    element, so it runs, and ``closest('body')`` still finds the body.
    """
    tree = _html5_parser().parse(xml_safe(page), scripting=True)
    marked = [
        element for element in tree.iter(etree.Element) if element.get(MARKER_ATTRIBUTE) is not None
    ]
    scripts = [element for element in marked if element.tag == f"{HTML_NS}script"]
    kinds = [str(element.get(MARKER_ATTRIBUTE)) for element in scripts]

    def ancestors(element: etree._Element) -> set[str]:
        return {str(a.tag) for a in element.iterancestors()}

    where = "missing"
    for element in marked:
        if element.get(MARKER_ATTRIBUTE) != "tracker":
            continue
        if not str(element.tag).startswith(HTML_NS):
            where = "foreign"
        elif f"{HTML_NS}body" in ancestors(element):
            where = "body"
        elif f"{HTML_NS}head" in ancestors(element):
            where = "head"
        else:
            where = "other"
    ok = kinds == ["stub", "tracker"]
    return View(
        kinds,
        stub_runs=ok and not _INERT & ancestors(scripts[0]),
        tracker_runs_in_body=ok and where == "body" and not _INERT & ancestors(scripts[1]),
        tracker_where=where,
    )
