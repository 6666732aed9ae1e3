"""Check a candidate page, and a tracked page, with a spec-compliant HTML5 parser (Lexbor).

The engine chooses spots for the stub and the tracker by plain searches; this module decides
whether a browser would run them there. It parses the page with Lexbor (through
``selectolax``), an implementation of the HTML standard's tokenizer and tree builder (HTML
standard, 13.2 "Parsing HTML documents"), with scripting enabled, as in a browser that runs our
script: the content of ``<noscript>`` is then text (13.2.6.4.7 "in body": ``noscript`` "if the
scripting flag is enabled" follows the generic raw text element parsing algorithm).

One parse of a candidate output answers everything the engine needs (:func:`check_candidate`):
whether exactly our tags became running scripts where they belong, and the page's facts
(redirect, AMP, frameset, an empty body). :mod:`.running` answers from the same kind of parse
what ``aae-tracking check`` needs: would a page's tracker run at all. Our tags are found by their
marker attribute, ``data-aae-tracking``, through one CSS selection (Lexbor walks the tree in C);
only the few nodes found are looked at from Python, with their ancestors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aae_tracking_plugins.core.engine.refresh import refresh_target
from aae_tracking_plugins.core.engine.search import MARKER_ATTRIBUTE

__all__ = [
    "AMP_ATTRIBUTES",
    "NOT_RUNNING_ANCESTORS",
    "PageFacts",
    "Verdict",
    "ancestors",
    "blocker",
    "check_candidate",
    "page_facts",
    "parse",
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
#: Elements whose content is text: a page that ends inside one swallows what is appended.
RAW_TEXT_ELEMENTS = frozenset(
    "script style textarea title xmp iframe noembed noframes noscript plaintext".split()
)
#: The ``<html>`` attributes that make a page an AMP document (AMP's validator spec: ``amp``,
#: ``⚡``, and the email and ads formats).
AMP_ATTRIBUTES = frozenset({"amp", "\u26a1", "amp4email", "\u26a14email", "amp4ads", "\u26a14ads"})

_ASCII_WHITESPACE = "\t\n\f\r "
_SELECT = f"[{MARKER_ATTRIBUTE}], meta[http-equiv]"


def parse(text: str | bytes) -> LexborHTMLParser:
    """Parse a page as a browser with scripting enabled does.

    Args:
        text: the whole page; bytes are read as UTF-8. Lone surrogates in a text (bytes a page's
            codec does not map, kept by ``surrogateescape``) are passed on as invalid UTF-8,
            which the parser reads as U+FFFD, as a browser reads an undecodable byte.

    Returns:
        The parsed document (template contents are not part of its tree). A leading byte order
        mark is not part of the document: a browser's decoder removes it (Encoding standard,
        "decode"), where Lexbor would read it as text that starts the body.
    """
    if isinstance(text, str) and text.startswith("\ufeff"):
        text = text[1:]
    elif isinstance(text, bytes) and text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    try:
        return LexborHTMLParser(text, scripting=True)
    except UnicodeEncodeError:
        assert isinstance(text, str)
        return LexborHTMLParser(text.encode("utf-8", "surrogatepass"), scripting=True)


def ancestors(node: LexborNode) -> list[str]:
    """The tag names of ``node``'s ancestors, innermost first."""
    names = []
    parent = node.parent
    while parent is not None:
        names.append(parent.tag or "")
        parent = parent.parent
    return names


def blocker(names: list[str]) -> str | None:
    """The innermost element among ``names`` (innermost first) that keeps a script from
    running, if any."""
    return next((name for name in names if name in NOT_RUNNING_ANCESTORS), None)


@dataclass(frozen=True)
class PageFacts:
    """What the engine must know about a page besides where our tags went."""

    #: Where the page's meta refresh sends the visitor (:func:`.refresh.refresh_target`).
    redirect: str | None
    #: The ``<html>`` element has one of :data:`AMP_ATTRIBUTES`.
    amp: bool
    #: The document has a ``<frameset>`` instead of a body: no script runs in a body there.
    frameset: bool
    #: The body holds nothing but our tags, whitespace and comments (a head-only page).
    body_empty: bool


def page_facts(
    tree: LexborHTMLParser, metas: list[dict[str, str | None]] | None = None
) -> PageFacts:
    """The :class:`PageFacts` of a parsed page.

    Args:
        tree: the parse (:func:`parse`).
        metas: the attributes of its ``<meta http-equiv>`` elements when already selected (in
            document order), else ``None``.
    """
    if metas is None:
        metas = [node.attributes for node in tree.css("meta[http-equiv]")]
    root = tree.root
    amp = root is not None and not AMP_ATTRIBUTES.isdisjoint(root.attributes)
    body = tree.body
    return PageFacts(
        redirect=refresh_target(metas),
        amp=amp,
        frameset=body is None and tree.css_first("frameset") is not None,
        body_empty=body is not None and _only_ours(body),
    )


def _only_ours(body: LexborNode) -> bool:
    """Whether ``body`` has no child but our marked elements, whitespace and comments."""
    node = body.child
    while node is not None:
        if node.is_text_node:
            if (node.text(deep=False) or "").strip(_ASCII_WHITESPACE):
                return False
        elif node.is_element_node and MARKER_ATTRIBUTE not in node.attributes:
            return False
        node = node.next
    return True


@dataclass(frozen=True)
class _Expected:
    """The texts our inserted elements must have in the parse."""

    stub: str
    tracker: str
    pixels: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _expected(head: str, body: str) -> _Expected:
    def text_of(markup: str, name: str) -> str:
        start = markup.index(">") + 1
        return markup[start : markup.lower().index(f"</{name}", start)]

    rest = body[body.lower().index("</script>") + len("</script>") :]
    pixels = tuple(
        text_of(f"<noscript {part}", "noscript")
        for part in rest.split("<noscript ")[1:]
        if part.startswith(f"{MARKER_ATTRIBUTE}=")
    )
    return _Expected(text_of(head, "script"), text_of(body, "script"), pixels)


@dataclass(frozen=True)
class Verdict:
    """What one parse of a candidate output says about it."""

    #: ``None`` when the candidate is accepted, else the reason, one sentence.
    problem: str | None
    #: The stub is one running script where it belongs (whatever the tracker did).
    stub_ok: bool
    #: The tracker (and the Pixel fallback) are where they belong (whatever the stub did).
    tracker_ok: bool
    #: The tracker is a whole, running script, but in ``<head>`` (the body had not started).
    tracker_in_head: bool
    #: Where the tracker was kept from running (an element name), if it was.
    tracker_blocked_by: str | None
    #: More marked elements than we inserted: the page has its own (no other spot helps).
    foreign_marks: bool
    facts: PageFacts
    tree: LexborHTMLParser


def check_candidate(
    text: str | bytes, head: str, body: str, *, stub_in_head: bool = True
) -> Verdict:
    """Parse the candidate output ``text`` once and judge our tags and the page.

    Args:
        text: the page with the stub and the tracker inserted (and no other tag of ours).
        head: the inserted stub (``Snippet.head``).
        body: the inserted tracker, possibly followed by the Pixel's ``<noscript>`` fallback
            (``Snippet.body``).
        stub_in_head: ``False`` when the engine put the stub right before the tracker on
            purpose (to keep a ``<meta charset>`` within the first 1024 bytes): it must then
            come right before the tracker instead of first in ``<head>``.

    Returns:
        A :class:`Verdict`. It accepts (``problem`` is ``None``) when the parse shows exactly
        our marked elements: two scripts, the stub then the tracker, each with its text intact
        and inside none of :data:`NOT_RUNNING_ANCESTORS`, the stub in ``<head>`` ahead of every
        other script (or right before the tracker), the tracker in ``<body>``, and the Pixel
        ``<noscript>`` fallbacks ``body`` holds, intact.

    Raises:
        Nothing of its own: the parser recovers from any input (HTML standard, 13.2.2
        "Parse errors").
    """
    tree = parse(text)
    expected = _expected(head, body)
    metas, marked = [], []
    for node in tree.css(_SELECT):
        attributes = node.attributes
        if MARKER_ATTRIBUTE in attributes:
            marked.append((node.tag or "", attributes[MARKER_ATTRIBUTE], node))
        else:
            metas.append(attributes)
    # A marked element of another kind: not ours, or ours swallowed by a tag it landed in
    # (``<p <script data-aae-tracking=...>``); a stray "pixel" is the tracker's insertion.
    strangers = sum(kind not in ("stub", "tracker", "pixel") for _tag, kind, _node in marked)
    stub = _judge([node for _tag, kind, node in marked if kind == "stub"], expected.stub)
    tracker = _judge([node for _tag, kind, node in marked if kind == "tracker"], expected.tracker)
    pixels = [
        node.text(deep=True) if tag == "noscript" else None
        for tag, kind, node in marked
        if kind == "pixel"
    ]
    stub_placed = _stub_problem(tree, stub, tracker, stub_in_head=stub_in_head)
    problems = _problems(marked, stub, tracker, stub_placed)
    if pixels != list(expected.pixels):
        problems.append(
            f"an HTML5 parse sees {len(pixels)} inserted <noscript> elements, not the snippet's"
        )
    tracker_runs = tracker.problem is None
    return Verdict(
        problem=problems[0] if problems else None,
        stub_ok=not strangers and stub.problem is None and stub_placed is None,
        tracker_ok=(
            not strangers
            and tracker_runs
            and "body" in tracker.ancestors
            and pixels == list(expected.pixels)
        ),
        tracker_in_head=tracker_runs and "head" in tracker.ancestors,
        tracker_blocked_by=tracker.blocker,
        foreign_marks=len(marked) > 2 + len(expected.pixels),
        facts=page_facts(tree, metas),
        tree=tree,
    )


def _problems(
    marked: list[tuple[str, str | None, LexborNode]],
    stub: _Judged,
    tracker: _Judged,
    stub_placed: str | None,
) -> list[str]:
    """The reasons to refuse, most telling first (the engine reports the first)."""
    problems = []
    scripts = [kind for tag, kind, _node in marked if tag == "script"]
    others = sorted(
        {f"<{tag}>" for tag, _kind, _node in marked if tag not in ("script", "noscript")}
    )
    if scripts != ["stub", "tracker"]:
        problems.append(
            f"an HTML5 parse sees the inserted scripts as {scripts or 'missing'}, "
            "not a stub then a tracker"
        )
    elif others:
        problems.append(f"an HTML5 parse sees our marker on {', '.join(others)}")
    problems += [problem for problem in (stub.problem, tracker.problem) if problem]
    if tracker.problem is None and "body" not in tracker.ancestors:
        problems.append("an HTML5 parse puts the tracker outside <body>")
    if stub_placed is not None:
        problems.append(stub_placed)
    return problems


@dataclass(frozen=True)
class _Judged:
    """One of our scripts as parsed: the element (if there is exactly one), the names of its
    ancestors, the one that keeps it from running, and what is wrong with it."""

    node: LexborNode | None
    ancestors: list[str]
    blocker: str | None
    problem: str | None


_NOT_INTACT = "an HTML5 parse does not see the inserted script text intact"


def _judge(nodes: list[LexborNode], text: str) -> _Judged:
    """Whether ``nodes`` is one script with ``text`` that is inside nothing that stops it."""
    if len(nodes) != 1 or nodes[0].tag != "script":
        return _Judged(None, [], None, f"an HTML5 parse sees {len(nodes)} such scripts")
    node = nodes[0]
    names = ancestors(node)
    inner = blocker(names)
    if inner is not None:
        problem = f"an inserted script would be inside <{inner}>, where it does not run"
        return _Judged(node, names, inner, problem)
    if node.text(deep=True) != text:
        return _Judged(node, names, None, _NOT_INTACT)
    return _Judged(node, names, None, None)


def _stub_problem(
    tree: LexborHTMLParser, stub: _Judged, tracker: _Judged, *, stub_in_head: bool
) -> str | None:
    """Why the (running) stub is not where it belongs, if it is not."""
    if stub.node is None or stub.problem is not None:
        return None  # already reported
    if not stub_in_head:
        if tracker.node is None or not _adjacent(stub.node, tracker.node):
            return "an HTML5 parse does not put the stub right before the tracker"
        return None
    if "head" not in stub.ancestors:
        return "an HTML5 parse puts the stub outside <head>"
    first = tree.css_first("script")
    if first is None or first.mem_id != stub.node.mem_id:
        return "an HTML5 parse puts the stub after another script"
    return None


def verify_insertion(text: str, head: str, body: str, *, stub_in_head: bool = True) -> str | None:
    """``None`` when :func:`check_candidate` accepts ``text``, else its reason."""
    return check_candidate(text, head, body, stub_in_head=stub_in_head).problem


def _adjacent(first: LexborNode, second: LexborNode) -> bool:
    """``second`` is the next sibling element of ``first``, with at most whitespace between."""
    node = first.next
    while node is not None and node.is_text_node and not (node.text() or "").strip():
        node = node.next
    return node is not None and node.mem_id == second.mem_id


def unclosed_at_end(tree: LexborHTMLParser, blocked_by: str | None) -> str:
    """What a page whose end swallowed an appended tracker ends inside of, for the reason.

    Args:
        tree: the parse of the page with the tracker appended at its end.
        blocked_by: the element the tracker was found inside, if it was found at all.

    Returns:
        ``"<svg>"``, ``"comment"``, ``"<script>"``... or ``"tag"`` when nothing of the tracker
        is left (the page ends inside a tag or an attribute value: the tokenizer drops it).
    """
    if blocked_by is not None:
        return f"<{blocked_by}>"
    node = tree.root
    document = node.parent if node is not None else None
    node = document if document is not None else node
    while node is not None and node.last_child is not None:
        node = node.last_child
    if node is None:
        return "tag"
    if node.is_comment_node:
        return "comment"
    parent = node.parent
    if node.is_text_node and parent is not None and parent.tag in RAW_TEXT_ELEMENTS:
        return f"<{parent.tag}>"
    if node.tag in NOT_RUNNING_ANCESTORS:
        return f"<{node.tag}>"
    return "tag"
