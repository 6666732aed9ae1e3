"""An HTML5-compliant oracle (html5lib) for where a browser puts the scripts we insert."""

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
