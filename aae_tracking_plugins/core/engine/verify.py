"""Check an injected page, and a tracked page, with a spec-compliant HTML5 parser (Lexbor).

The engine places the stub and the tracker by searching the page's text; this module decides
whether a browser would run them there. It parses the page with Lexbor (through ``selectolax``),
an implementation of the HTML standard's tokenizer and tree builder (HTML standard, 13.2
"Parsing HTML documents"), with scripting enabled, as in a browser that runs our script: the
content of ``<noscript>`` is then text (13.2.6.4.4 "The 'in head noscript' insertion mode" is
not used, 13.2.6.4.7 "in body": ``noscript`` "if the scripting flag is enabled" follows the
generic raw text element parsing algorithm).

Two questions are answered from that parse:

- :func:`verify_insertion`: did the candidate output put exactly our two scripts where they run
  (the engine's final check; a page that fails it is left alone with the reason).
- :func:`tracker_problem`: would a page's tracker run at all (what ``aae-tracking check`` counts
  as tracked).

Both find our tags by their marker attribute, ``data-aae-tracking``.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aae_tracking_plugins.core.engine.scanner import MARKER_ATTRIBUTE

__all__ = [
    "JAVASCRIPT_MIME_TYPES",
    "NOT_RUNNING_ANCESTORS",
    "parse",
    "script_type_problem",
    "tracker_problem",
    "verify_insertion",
]

#: Elements a running script of ours must not be inside. ``template`` content is an inert
#: document fragment (HTML standard, 4.12.3 "The template element"); a ``script`` in SVG or
#: MathML content is not an HTML script element (13.2.6.5 "The rules for parsing tokens in
#: foreign content"); ``noscript`` content is text with scripting on and never runs otherwise;
#: the rest are raw text and escapable raw text elements (13.1.2 "Elements": their content is
#: text, and Lexbor can only show an element inside one after a parse error recovery).
NOT_RUNNING_ANCESTORS = frozenset(
    "template svg math noscript script style textarea title xmp iframe noembed noframes "
    "plaintext".split()
)

#: The JavaScript MIME type essences (MIME Sniffing standard, 4.6 "MIME type groups",
#: "JavaScript MIME type"): a ``type`` attribute naming one of them runs a classic script.
JAVASCRIPT_MIME_TYPES = frozenset(
    "application/ecmascript application/javascript application/x-ecmascript "
    "application/x-javascript text/ecmascript text/javascript text/javascript1.0 "
    "text/javascript1.1 text/javascript1.2 text/javascript1.3 text/javascript1.4 "
    "text/javascript1.5 text/jscript text/livescript text/x-ecmascript "
    "text/x-javascript".split()
)

_ASCII_WHITESPACE = "\t\n\f\r "


def parse(text: str) -> LexborHTMLParser:
    """Parse ``text`` as a browser with scripting enabled does.

    Args:
        text: the whole page. Lone surrogates (bytes a page's codec does not map, kept by
            ``surrogateescape``) are passed on as invalid UTF-8, which the parser reads as
            U+FFFD, as a browser reads an undecodable byte.

    Returns:
        The parsed document (template contents are not part of its tree).
    """
    try:
        return LexborHTMLParser(text, scripting=True)
    except UnicodeEncodeError:
        return LexborHTMLParser(text.encode("utf-8", "surrogatepass"), scripting=True)


def _ancestors(node: LexborNode) -> list[str]:
    names = []
    parent = node.parent
    while parent is not None:
        names.append(parent.tag or "")
        parent = parent.parent
    return names


def _blocked_by(node: LexborNode) -> str | None:
    """The innermost element around ``node`` that keeps a script from running, if any."""
    return next((name for name in _ancestors(node) if name in NOT_RUNNING_ANCESTORS), None)


def _script_text(tag: str) -> str:
    """The text of the first ``<script>`` in ``tag`` (the snippet's body may go on with the
    Pixel's ``<noscript>``; script text never holds ``</script``, see :mod:`.snippet`)."""
    return tag[tag.index(">") + 1 : tag.lower().index("</script")]


def verify_insertion(text: str, head: str, body: str, *, stub_in_head: bool = True) -> str | None:
    """Whether the candidate output ``text`` runs our stub and tracker where they belong.

    Args:
        text: the page with the stub and the tracker inserted (and no other tag of ours).
        head: the inserted stub (``Snippet.head``).
        body: the inserted tracker, possibly followed by the Pixel's ``<noscript>`` fallback
            (``Snippet.body``).
        stub_in_head: ``False`` when the engine put the stub right before the tracker on
            purpose (to keep a ``<meta charset>`` within the first 1024 bytes): it must then
            come right before the tracker instead of first in ``<head>``.

    Returns:
        ``None`` when the parse shows exactly two scripts carrying the marker, the stub then
        the tracker, each with its text intact and inside none of :data:`NOT_RUNNING_ANCESTORS`;
        the stub in ``<head>`` ahead of every other script; the tracker in ``<body>``; and as
        many marked ``<noscript>`` fallbacks as ``body`` holds. Otherwise the reason, one
        sentence, for the page's "left alone" message.

    Raises:
        Nothing of its own: the parser recovers from any input (HTML standard, 13.2.2
        "Parse errors").
    """
    tree = parse(text)
    found = tree.css(f"script[{MARKER_ATTRIBUTE}]")
    kinds = [node.attributes.get(MARKER_ATTRIBUTE) for node in found]
    if kinds != ["stub", "tracker"]:
        return (
            f"an HTML5 parse sees the inserted scripts as {kinds or 'missing'}, "
            "not a stub then a tracker"
        )
    stub, tracker = found
    for node, tag in ((stub, head), (tracker, body)):
        blocker = _blocked_by(node)
        if blocker is not None:
            return f"an inserted script would be inside <{blocker}>, where it does not run"
        if node.text(deep=True) != _script_text(tag):
            return "an HTML5 parse does not see the inserted script text intact"
    if "body" not in _ancestors(tracker):
        return "an HTML5 parse puts the tracker outside <body>"
    if stub_in_head:
        if "head" not in _ancestors(stub):
            return "an HTML5 parse puts the stub outside <head>"
        first = tree.css_first("script")
        if first is None or first.attributes.get(MARKER_ATTRIBUTE) != "stub":
            return "an HTML5 parse puts the stub after another script"
    elif not _adjacent(stub, tracker):
        return "an HTML5 parse does not put the stub right before the tracker"
    fallbacks = len(tree.css(f"noscript[{MARKER_ATTRIBUTE}]"))
    if fallbacks != body.count(f"<noscript {MARKER_ATTRIBUTE}="):
        return f"an HTML5 parse sees {fallbacks} inserted <noscript> elements, not the snippet's"
    return None


def _adjacent(first: LexborNode, second: LexborNode) -> bool:
    """``second`` is the next sibling element of ``first``, with at most whitespace between."""
    node = first.next
    while node is not None and node.is_text_node and not (node.text() or "").strip():
        node = node.next
    return node is not None and node.mem_id == second.mem_id


def script_type_problem(attributes: dict[str, str | None]) -> str | None:
    """Why a ``<script>`` with these attributes would not run as a classic script, if it would not.

    Follows the HTML standard, 4.12.1.1 "Processing model", "prepare the script element" step 8:
    no ``type`` and no ``language`` attribute, an empty one, or a ``type`` that is a JavaScript
    MIME type essence (ASCII whitespace stripped, any letter case) runs a classic script;
    ``module`` runs a module script, where ``document.currentScript`` (which our tracker reads
    its settings from) is ``null``; anything else (``text/plain``, as consent managers use
    until consent) is a data block that never runs. A classic script with ``nomodule`` does
    not run in browsers that support modules (step 20, "prepare the script element").

    Args:
        attributes: the element's attributes as parsed (names lower-case, values unescaped;
            ``None`` for an attribute without a value).

    Returns:
        ``None`` when the script runs as a classic script, else the reason.
    """
    script_type = attributes.get("type")
    language = attributes.get("language")
    if script_type is not None:
        kind = script_type
    else:
        kind = "text/" + language if language else "text/javascript"
    essence = kind.strip(_ASCII_WHITESPACE).lower()
    if essence in ("", *JAVASCRIPT_MIME_TYPES):
        if "nomodule" in attributes:
            return "its tracker tag has nomodule, so browsers with modules skip it"
        return None
    if essence == "module":
        return 'its tracker tag is type="module", where the tracker cannot read its settings'
    return f"its tracker tag is type={kind!r}, which browsers do not run"


def tracker_problem(text: str) -> str | None:
    """Why the tracker a page carries would not run in a browser, or ``None`` when it would.

    For ``aae-tracking check``: the page is tracked only when this is ``None``.

    Args:
        text: the whole page, which carries at least one tag with ``data-aae-tracking``.

    Returns:
        ``None`` when the parse shows a ``<script data-aae-tracking="tracker">`` that runs: not
        in ``<template>`` content, not in SVG/MathML or ``<noscript>`` (see
        :data:`NOT_RUNNING_ANCESTORS`), with a ``type`` that :func:`script_type_problem`
        accepts. Otherwise the reason, for the report (the first tracker's, when none runs).
    """
    tree = parse(text)
    selector = f'script[{MARKER_ATTRIBUTE}="tracker"]'
    found = tree.css(selector)
    if not found:
        if any(fragment.css(selector) for fragment in tree.template_fragments()):
            return "its tracker tag is inside <template>, whose content never runs"
        return "its tracker tag is not a script a browser runs (it is in text or a comment)"
    reasons = []
    for node in found:
        blocker = _blocked_by(node)
        reason = (
            f"its tracker tag is inside <{blocker}>, where it does not run"
            if blocker is not None
            else script_type_problem(node.attributes)
        )
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0]
