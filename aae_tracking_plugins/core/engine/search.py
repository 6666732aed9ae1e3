"""Plain searches of a page's text: candidate spots for our tags, and our earlier tags.

Nothing here decides whether a spot is right: :mod:`.verify` parses the candidate output with an
HTML5 parser and accepts or rejects it. A search may therefore be fooled by a decoy (a
``</body>`` inside a comment or a script string); it only has to find the right spot among the
first few candidates. The searches are case-blind where HTML names are (ASCII letters only),
and follow the tokenizer's rules for a tag's attributes (HTML standard, 13.2.5.32-13.2.5.40:
quoted values may hold ``>``) so that the end of a tag is found exactly.

Speed: every search here either looks at a bounded part of the page (``<head>`` near the top,
the last ``</body>`` near the end) or runs only on pages that already failed a candidate.
Case-blind patterns are written as ``[hH][eE]...`` after a literal ``<``, which the regex engine
skips to quickly.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = [
    "MARKER_ATTRIBUTE",
    "MarkedTag",
    "body_and_html_ends",
    "contains_marker",
    "doctype_end",
    "find_tracker_tags",
    "first_start_tag",
    "has_body_tag",
    "has_markup",
    "opener_candidates",
    "script_text",
]

#: The attribute that marks every tag we insert (the stub, the tracker, the Pixel's fallback).
MARKER_ATTRIBUTE = "data-aae-tracking"

_SPACE = r"\t\n\f\r "
_NAME_END = rf"(?=[{_SPACE}/>])"
# One attribute value: quoted, unquoted (never starting with a quote), or empty before ">".
# Names and unquoted values are matched maximally (the lookaheads), so a tag that never closes
# fails in linear time instead of backtracking through every way to split its attributes.
_VALUE = rf"""(?:"[^"]*"|'[^']*'|[^{_SPACE}>"'][^{_SPACE}>]*(?![^{_SPACE}>])|(?=>))"""
_ATTRS = (
    rf"""(?:[{_SPACE}/]+(?![{_SPACE}/])"""
    rf"""|[^{_SPACE}/>][^{_SPACE}/>=]*(?![^{_SPACE}/>=])"""
    rf"""(?:[{_SPACE}]*=[{_SPACE}]*{_VALUE}|(?![{_SPACE}]*=)))*"""
)
#: The rest of a tag after its name: attributes, then ">" (group 1) unless the text ends first.
_TAG_REST = re.compile(rf"{_ATTRS}(>)?")
#: One attribute of a tag's text: name, then the value as written (quotes included).
_ATTRIBUTE = re.compile(
    rf"""([^{_SPACE}/>][^{_SPACE}/>=]*)"""
    rf"""(?:[{_SPACE}]*=[{_SPACE}]*("[^"]*"|'[^']*'|[^{_SPACE}>"'][^{_SPACE}>]*)?)?"""
)
_TAG_NAME = re.compile(rf"[^{_SPACE}/>]*")
_ANY_MARKUP = re.compile(r"<[A-Za-z!?/]")


def _case_blind(name: str) -> str:
    """``name`` as a pattern that matches it in any ASCII letter case (``[hH][eE]...``)."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)


_BODY_START = re.compile(rf"<{_case_blind('body')}{_NAME_END}")
_DOCTYPE = re.compile(rf"<!{_case_blind('doctype')}")
#: What a page can end inside of without closing it, so that anything appended is swallowed:
#: a comment, raw text and escapable raw text elements, ``<plaintext>``, ``<template>`` content
#: and foreign content (HTML standard, 13.1.2 "Elements"; 13.2.6.5 foreign content).
_CONSTRUCTS = (
    "script style textarea title xmp iframe noembed noframes noscript template svg math "
    "plaintext".split()
)
_OPENER = re.compile(
    "<(?:!--|" + "|".join(f"{_case_blind(name)}{_NAME_END}" for name in _CONSTRUCTS) + ")"
)
#: Windows searched from the end of the page, growing: the last ``</body>`` is usually near it.
_FIRST_WINDOW = 2048
#: Longer than any match of the patterns searched back from the end (``<plaintext`` + 1).
_LONGEST_MATCH = 16
#: How far from the top :func:`first_start_tag` looks for ``<html>`` and ``<head>``.
TOP_WINDOW = 65536


def has_markup(text: str) -> bool:
    """Whether ``text`` has anything a browser reads as markup (a tag, comment or DOCTYPE)."""
    return _ANY_MARKUP.search(text) is not None


def tag_end(text: str, name_end: int) -> int | None:
    """The index after the ``>`` of a tag whose name ends at ``name_end``, or ``None`` when the
    text ends first (the tokenizer then drops the tag)."""
    rest = _TAG_REST.match(text, name_end)
    assert rest is not None  # the pattern matches the empty string
    return rest.end() if rest.group(1) is not None else None


def _reverse_finditer(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` (at most :data:`_LONGEST_MATCH` long) from the last to the first,
    searched in growing windows from the end, so that the last few cost a search of the page's
    tail only; each character is searched once."""
    end = len(text)
    size = _FIRST_WINDOW
    while end > 0:
        start = max(0, end - size)
        # A match that starts in the window may end past it (its name, the lookahead).
        window = pattern.finditer(text, start, min(len(text), end + _LONGEST_MATCH))
        found = [match for match in window if match.start() < end]
        yield from reversed(found)
        end = start
        size *= 4


_BODY_OR_HTML_END = re.compile(
    rf"</(?:(?P<body>{_case_blind('body')})|{_case_blind('html')}){_NAME_END}"
)


def body_and_html_ends(text: str) -> Iterator[tuple[int, str]]:
    """Where each ``</body`` end tag starts (any letter case), from the last to the first, then
    each ``</html``: ``(position, "body")`` and ``(position, "html")``.

    One search from the end finds both: the ``</html`` ones met on the way are kept until the
    ``</body`` ones run out (a page without ``</body>`` is searched once, not twice).
    """
    html_ends = []
    for match in _reverse_finditer(_BODY_OR_HTML_END, text):
        if match.group("body") is not None:
            yield match.start(), "body"
        else:
            html_ends.append(match.start())
    for at in html_ends:
        yield at, "html"


def opener_candidates(text: str) -> Iterator[int]:
    """Where each ``<!--``, ``<script``, ``<style``, ..., ``<template``, ``<svg``, ``<math`` and
    ``<plaintext`` starts, from the last to the first: right before one of them is a spot that a
    page ending inside it left unswallowed."""
    for match in _reverse_finditer(_OPENER, text):
        yield match.start()


def first_start_tag(text: str, name: str) -> tuple[int, int] | None:
    """Start and end of the first ``<name ...>`` start tag (``name`` in lower case, found in
    any letter case) within the first :data:`TOP_WINDOW` characters.

    A plain search: the tag may be a decoy inside a comment (the parse of the candidate output
    tells). Only the top of the page is searched: ``<html>`` and ``<head>`` tags that matter
    come before any content, and a case-blind search of a whole large page that lacks them
    would cost a good part of a parse. The engine uses this for the stub's spot only, where a
    tag it does not find leaves a later candidate, verified like any other.

    Returns:
        ``(start, end)`` with ``end`` after the tag's ``>``, or ``None`` when there is no such
        tag there (or it never closes).
    """
    pattern = _start_tag_pattern(name)
    lower = text.find("<" + name, 0, TOP_WINDOW)
    while lower >= 0 and not pattern.match(text, lower):  # e.g. "<header" for "<head"
        lower = text.find("<" + name, lower + 1, TOP_WINDOW)
    found = pattern.search(text, 0, lower if lower >= 0 else TOP_WINDOW)
    start = found.start() if found is not None else lower
    if start < 0:
        return None
    end = tag_end(text, start + 1 + len(name))
    return None if end is None else (start, end)


@functools.cache
def _start_tag_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<{_case_blind(name)}{_NAME_END}")


@functools.cache
def _end_tag_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{_case_blind(name)}{_NAME_END}")


def has_body_tag(text: str) -> bool:
    """Whether a ``<body`` start tag (any letter case) appears anywhere in ``text``."""
    return _BODY_START.search(text) is not None


def doctype_end(text: str, stop: int | None = None) -> int | None:
    """The index after the first ``<!DOCTYPE ...>`` (any letter case) before ``stop``, if any.

    Nothing may be inserted before a DOCTYPE: a script before it puts the page in quirks mode
    (HTML standard, 13.2.6.4.1 "The 'initial' insertion mode").
    """
    found = _DOCTYPE.search(text, 0, len(text) if stop is None else stop)
    if found is None:
        return None
    close = text.find(">", found.end())
    return None if close < 0 else close + 1


def contains_marker(text: str) -> bool:
    """Whether ``text`` holds our marker attribute's name as written by us (lower case)."""
    return MARKER_ATTRIBUTE in text


class MarkedTag(NamedTuple):
    """One of our tags found by a plain search: a ``<script>`` or ``<noscript>`` start tag with
    the marker attribute, and where its element's content and end tag are."""

    name: str  # "script" or "noscript"
    start: int
    end: int  # after the start tag's ">"
    raw: str  # the start tag's text
    content_end: int  # where the end tag starts (the end of the text if there is none)

    def attributes(self) -> dict[str, str]:
        """The start tag's attributes: names in lower case, values as written without their
        quotes (not unescaped); the first of a repeated name wins, as in browsers."""
        return parse_attributes(self.raw)


def parse_attributes(raw_tag: str) -> dict[str, str]:
    """Attributes of a start tag's text (see :meth:`MarkedTag.attributes`)."""
    name = _TAG_NAME.match(raw_tag, 1)
    assert name is not None  # the pattern matches the empty string
    name_end = name.end()
    result: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(raw_tag, name_end, len(raw_tag) - (raw_tag[-1:] == ">")):
        value = match.group(2) or ""
        if value[:1] in ('"', "'"):
            value = value[1:-1]
        result.setdefault(match.group(1).lower(), value)
    return result


_MARKED_START = re.compile(
    rf"<(?P<name>{_case_blind('script')}|{_case_blind('noscript')}){_NAME_END}"
)


def marker_value(tag: MarkedTag) -> str | None:
    """The marker attribute's value as a browser reads it (``None`` when the tag has none)."""
    value = tag.attributes().get(MARKER_ATTRIBUTE)
    return None if value is None else html.unescape(value)


def find_tracker_tags(text: str) -> list[tuple[MarkedTag, int]]:
    """Our tags in ``text`` by plain search: each ``<script>``/``<noscript>`` start tag that has
    the attribute ``data-aae-tracking``, with the index after its element's end tag.

    Decoys count too (a tag of ours quoted in a comment): the engine compares the result with
    an HTML5 parse before it removes anything. Script and noscript text never holds its own end
    tag in what we write, so the element ends at the first ``</script``/``</noscript``.

    Returns:
        ``(tag, end)`` pairs in document order; ``end`` is the end of the text when the element
        or its end tag never closes.
    """
    if not _marker_anywhere(text):
        return []
    found = []
    for match in _MARKED_START.finditer(text):
        end = tag_end(text, match.end())
        if end is None:
            break
        name = match.group("name").lower()
        raw = text[match.start() : end]
        if MARKER_ATTRIBUTE not in raw.lower() or MARKER_ATTRIBUTE not in parse_attributes(raw):
            continue
        closer = _end_tag_pattern(name).search(text, end)
        content_end = len(text) if closer is None else closer.start()
        close = None if closer is None else tag_end(text, closer.end())
        tag = MarkedTag(name, match.start(), end, raw, content_end)
        found.append((tag, len(text) if close is None else close))
    return found


def _marker_anywhere(text: str) -> bool:
    return MARKER_ATTRIBUTE in text or MARKER_ATTRIBUTE in text.lower()


def script_text(markup: str) -> str:
    """The text of the first element in ``markup`` we write (between its start and end tag).

    Our tags' attribute values never hold ``>`` (they are HTML-escaped), and script text never
    holds ``</script`` (:mod:`aae_tracking_plugins.core.tags` refuses such a build).
    """
    start = markup.index(">") + 1
    return markup[start : markup.lower().index("</", start)]
