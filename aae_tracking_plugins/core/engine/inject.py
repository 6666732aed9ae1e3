"""Decide where the tracker goes in a page and insert it into the page's original text.

Placement follows what a browser's HTML parser would do with the page: :mod:`.scanner` tokenizes
the way the HTML standard does (comments, raw-text elements such as ``<script>`` and
``<textarea>``, quoted attribute values, ``<template>``, inline ``<svg>``/``<math>``) and finds
the real ``<head>``, ``<meta charset>`` and ``</body>`` tags. The text is never re-serialised: the
output is the input with two insertions, every other character untouched.

On the common shape of a generated page the scan alone is exact. Any other page is also parsed by
an HTML5 parser (Lexbor, :mod:`.verify`), which must show both inserted scripts whole and running:
the stub first in ``<head>``, the tracker in ``<body>``, neither in ``<template>``, SVG/MathML,
``<noscript>`` or raw text. When anything is in doubt the page is left exactly as it was and the
reason is reported.

Our own tags (the scripts, and the Facebook Pixel's ``<noscript>`` fallback right after the
tracker when the page has a Pixel) carry ``data-aae-tracking``; they are removed before planning,
so injecting twice gives the page injecting once gives, and re-injecting with other ids (or
another Pixel id, or none) replaces the old tags.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass

from aae_tracking_plugins.core.engine import charset
from aae_tracking_plugins.core.engine.scanner import (
    MARKER_ATTRIBUTE,
    ScanResult,
    Tag,
    body_started_before,
    find_tracker_tags,
    has_markup,
    scan,
)
from aae_tracking_plugins.core.engine.verify import verify_insertion

__all__ = [
    "AMP_PAGE",
    "MARKER_ATTRIBUTE",
    "BytesInjectionResult",
    "InjectionResult",
    "ScanResult",
    "Snippet",
    "Tag",
    "find_tracker_tags",
    "inject",
    "inject_bytes",
    "plan",
    "refresh_target",
    "refresh_url",
    "remove_tracker",
    "scan",
]

EMPTY_FILE = "the file is empty"
NO_MARKUP = "no HTML markup in the file"
#: A page whose ``<meta http-equiv="refresh">`` sends the visitor to another URL (see
#: :func:`refresh_target`), with or without a fallback body: a redirect is not a visit.
REDIRECT = 'a redirect page (<meta http-equiv="refresh"> with a URL): not a visit'
#: Head-only, and not a redirect (e.g. an app shell that only loads scripts): worth a warning.
HEAD_ONLY = (
    "the page has only head content (no <body>, no text) and is no redirect: a tracker there "
    "would run in <head>, not in the body"
)
#: An AMP page (``<html amp>``, ``<html ⚡>``, or AMP for email/ads): AMP allows no custom
#: JavaScript, and a page with our scripts is no longer valid AMP. Left alone on purpose, with a
#: warning (``aae-tracking check`` does not count it as failing).
AMP_PAGE = "an AMP page (<html amp> or <html ⚡>): AMP allows no custom JavaScript"
#: The ``<html>`` attributes that make a page an AMP document (AMP's validator spec).
AMP_ATTRIBUTES = frozenset({"amp", "\u26a1", "amp4email", "\u26a14email", "amp4ads", "\u26a14ads"})
#: Reasons that mean "not a web page at all" (e.g. a search-engine verification file, a
#: redirect): such files are left alone quietly, without a warning.
NOT_A_PAGE = frozenset({EMPTY_FILE, NO_MARKUP, REDIRECT})


@dataclass(frozen=True)
class Snippet:
    """What to insert: a tiny queue stub for early in ``<head>``, the tracker for the body's end."""

    head: str
    body: str


class _Outcome:
    #: ``None`` when the tracker was placed; otherwise why the page was left byte-for-byte alone.
    skipped_reason: str | None

    @property
    def injected(self) -> bool:
        return self.skipped_reason is None

    @property
    def worth_a_warning(self) -> bool:
        """Left alone although it is a web page (not merely an empty or non-HTML file)."""
        return self.skipped_reason is not None and self.skipped_reason not in NOT_A_PAGE


@dataclass(frozen=True)
class InjectionResult(_Outcome):
    html: str
    skipped_reason: str | None = None


def remove_tracker(text: str, scanned: ScanResult | None = None) -> str:
    """The page without any of our script tags (what it was before injection)."""
    if scanned is None and MARKER_ATTRIBUTE not in text:  # skip the scan
        return text
    spans = [(tag.start, end) for tag, end in find_tracker_tags(text, scanned)]
    if not spans:
        return text
    pieces, pos = [], 0
    for start, end in spans:
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


@dataclass(frozen=True)
class Placement:
    head: int
    body: int
    #: One real </body>, a <head>, nothing left open at the end, every stretch jumped over: the
    #: common shape of generated pages, where the scan alone is exact. Anything else is also
    #: parsed by an HTML5 parser (:func:`.verify.verify_insertion`) before it is written.
    ordinary: bool = False
    #: Start and end of the page's first charset declaration when an insertion goes before it
    #: and it starts within the first 1024 characters: the insertion must not push it out of
    #: the first 1024 bytes, where browsers look for it (checked in the page's encoding).
    charset_at: tuple[int, int] | None = None


def plan(text: str, scanned: ScanResult | None = None) -> Placement | str:
    """Where the stub and the tracker go, or the reason they cannot go anywhere safe."""
    scanned = scanned or scan(text)
    tags = [tag for tag in scanned.tags if tag.context == "html"]
    if not has_markup(text):
        return NO_MARKUP
    if refresh_target(scanned) is not None:
        return REDIRECT
    if is_amp(tags):
        return AMP_PAGE
    if any(tag.name == "frameset" and not tag.is_end_tag for tag in tags):
        return "frameset documents cannot run scripts in their body"
    if scanned.uncertain:
        return "inline <svg> or <math> markup whose structure the scan cannot follow exactly"

    # Candidates, best first: the last real </body>, the last real </html>, the end of the file.
    # The tracker must land where the parser already is "in body": before that, a <script> goes
    # into <head> (a head-only redirect page, or a stray </body> before any content).
    body_ends = [t for t in scanned.tags if t.is_end_tag and t.name == "body"]
    body_ends = [t for t in body_ends if t.context != "template"]
    candidates: list[int] = []
    if body_ends:
        if body_ends[-1].context != "html":
            return "the body ends inside an unclosed <svg> or <math> element"
        candidates.append(body_ends[-1].start)
    html_ends = [t for t in tags if t.is_end_tag and t.name == "html"]
    if html_ends:
        candidates.append(html_ends[-1].start)
    eof_problem = None
    if scanned.eof_state != "data":
        eof_problem = f"the page ends inside an unclosed {scanned.eof_state}"
    elif scanned.eof_context != "html":
        eof_problem = "the page ends inside an unclosed <template>, <svg> or <math> element"
    else:
        candidates.append(len(text))
    body_at = next((at for at in candidates if body_started_before(text, scanned, at)), None)
    if body_at is None:
        if eof_problem and not candidates:
            return eof_problem + " (no </body> to insert before)"
        return HEAD_ONLY

    head_start = next((t for t in tags if t.name == "head" and not t.is_end_tag), None)
    head_at = min(_head_position(text, tags, scanned), body_at)
    ordinary = (
        len(body_ends) == 1
        and body_at == body_ends[0].start
        and head_start is not None
        and scanned.eof_state == "data"
        and scanned.eof_context == "html"
        and scanned.tag_by_tag == 0
    )
    declaration = next(
        (tag for tag in scanned.tags if tag.name == "meta" and _declares_charset(tag)), None
    )
    charset_at = None
    if declaration is not None and head_at <= declaration.start < charset.PRESCAN_BYTES:
        charset_at = (declaration.start, declaration.end)  # (characters never outnumber bytes)
    return Placement(head_at, body_at, ordinary, charset_at)


def is_amp(tags: list[Tag]) -> bool:
    """Whether the page's first ``<html>`` start tag makes it an AMP document.

    Args:
        tags: the page's tags outside comments, raw text and templates, in order.

    Returns:
        ``True`` when that tag has one of :data:`AMP_ATTRIBUTES` (any letter case, any value);
        ``False`` without an ``<html>`` tag (the parser creates one without attributes).
    """
    html_start = next((t for t in tags if t.name == "html" and not t.is_end_tag), None)
    return html_start is not None and not AMP_ATTRIBUTES.isdisjoint(html_start.attributes())


def _head_position(text: str, tags: list[Tag], scanned: ScanResult) -> int:
    head_start = next((t for t in tags if t.name == "head" and not t.is_end_tag), None)
    if head_start is not None:
        # Stay after <meta charset>: browsers only look for it in the first 1024 bytes. But
        # not after a script: the stub must run first (the charset check below keeps the
        # declaration within its 1024 bytes).
        for tag in tags:
            if tag.start < head_start.end:
                continue
            if tag.name in ("body", "script") or (tag.name == "head" and tag.is_end_tag):
                break
            if tag.name == "meta" and not tag.is_end_tag and _declares_charset(tag):
                return tag.end
        return head_start.end
    html_start = next((t for t in tags if t.name == "html" and not t.is_end_tag), None)
    if html_start is not None:
        start = html_start.end
    elif scanned.doctype_end is not None:
        # After a DOCTYPE (a script before it would put the page in quirks mode) and a BOM.
        start = scanned.doctype_end
    else:
        start = scanned.content_start
    # No <head> tag: the head is implied until the body starts. A charset declaration in it
    # stays before the stub, as with a <head> tag.
    for tag in tags:
        if tag.start < start or tag.is_end_tag:
            continue
        if tag.name in ("body", "script"):
            break
        if tag.name == "meta" and _declares_charset(tag):
            if not body_started_before(text, scanned, tag.start):
                return tag.end
            break
    return start


_ASCII_SPACE = "\t\n\f\r "
_ASCII_DIGITS = "0123456789"


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def refresh_url(content: str) -> str | None:
    """The URL part of a declarative refresh's ``content`` ("" when it has none), or ``None``
    when browsers ignore the value.

    Follows the HTML standard's "shared declarative refresh steps": optional spaces, a time
    (digits, or a "." starting the ignored fraction), then after ";", "," or spaces an optional
    ``url=`` (any case, spaces around "=") and the URL, cut at a closing quote when it starts with
    one. ``"5"`` and ``"0;"`` reload the page itself (``""``); ``"0; url=/new/"``,
    ``"5;URL='/new/'"`` and ``"0,/new/"`` send the visitor to ``/new/``; ``"soon"`` is ignored.
    """
    pos = _skip(content, 0, _ASCII_SPACE)
    digits_end = _skip(content, pos, _ASCII_DIGITS)
    if digits_end == pos and not content.startswith(".", pos):
        return None
    pos = _skip(content, digits_end, _ASCII_DIGITS + ".")
    if pos < len(content):
        if content[pos] not in ";," + _ASCII_SPACE:
            return None
        pos = _skip(content, pos, _ASCII_SPACE)
        if content.startswith((";", ","), pos):
            pos += 1
        pos = _skip(content, pos, _ASCII_SPACE)
    if pos >= len(content):
        return ""
    url_start = pos  # the URL when no "url=" prefix follows
    if content[pos : pos + 3].lower() == "url":
        after = _skip(content, pos + 3, _ASCII_SPACE)
        if content.startswith("=", after):
            pos = _skip(content, after + 1, _ASCII_SPACE)
            url_start = pos
    elif content[pos] in "uU":
        return content[pos:]  # "u" not followed by "rl": the URL is the rest, as it is
    quote = content[url_start] if content[url_start : url_start + 1] in ("'", '"') else ""
    url = content[url_start + len(quote) :]
    if quote and quote in url:
        url = url[: url.index(quote)]
    return url


def refresh_target(scanned: ScanResult) -> str | None:
    """The URL a page's ``<meta http-equiv="refresh">`` sends the visitor to, or ``None`` when the
    page is no redirect.

    A browser honours a refresh declaration whose ``<meta>`` is inserted into the document, in
    ``<head>`` or anywhere else (HTML standard, "Refresh" state of ``http-equiv``). Only real
    tags count: not one in a comment, in ``<template>`` content (an inert document), or in
    ``<noscript>`` (text when scripting is on; without scripting no tracker runs anyway). A
    refresh without a URL (or with an empty one) reloads the page itself: a normal page. The
    standard follows the first valid declaration, Chromium the one due soonest (checked in
    tests/test_redirects.py): a page is a redirect when any valid declaration has a URL.
    """
    for tag in scanned.tags:
        if tag.name != "meta" or tag.is_end_tag or tag.context == "template":
            continue
        attributes = tag.attributes()
        equiv = attributes.get("http-equiv", "")
        if not equiv.isascii() or equiv.lower() != "refresh":
            continue
        content = html.unescape(attributes.get("content", ""))
        url = (refresh_url(content) or "").strip(_ASCII_SPACE)
        if url:
            return url
    return None


def _declares_charset(tag: Tag) -> bool:
    if tag.is_end_tag:
        return False
    attrs = tag.attributes()
    return "charset" in attrs or attrs.get("http-equiv", "").lower() == "content-type"


def _iter_insert(text: str, inserts: list[tuple[int, str]]) -> Iterator[str]:
    pos = 0
    for at, piece in sorted(inserts, key=lambda item: item[0]):
        yield text[pos:at]
        yield piece
        pos = at
    yield text[pos:]


#: The insertions would move the page's charset declaration out of the prescan's reach.
CHARSET_PUSHED = (
    "the tracker would push the page's <meta charset> out of the first 1024 bytes, where "
    "browsers look for it"
)


def _keep_charset_visible(text: str, placement: Placement, snippet: Snippet) -> Placement | str:
    """``placement``, or one that keeps the charset declaration in the first 1024 bytes.

    Browsers find a ``<meta charset>`` only in the first 1024 bytes of the page (HTML standard,
    "prescan a byte stream to determine its encoding"). Bytes are counted as UTF-8, which never
    has fewer bytes for a character than the page's own encoding (windows-1252, Shift_JIS, ...:
    the ones a ``<meta>`` can declare), so the page's bytes and its text get the same decision;
    our tags are ASCII. When the stub would push the declaration out, the stub goes right before
    the tracker instead (after the declaration; it still runs before the tracker). When even the
    tracker comes first, the page is left alone. A byte order mark (which makes browsers skip
    the prescan) is not counted, so that a page gets the same decision with or without one.
    """
    assert placement.charset_at is not None
    start, end = placement.charset_at
    before = text[:end].removeprefix("\ufeff")
    inserts = ((placement.head, snippet.head), (placement.body, snippet.body))
    pushed = sum(len(piece) for at, piece in inserts if at <= start)
    if len(before.encode("utf-8", "surrogatepass")) + pushed <= charset.PRESCAN_BYTES:
        return placement
    if placement.body >= end:
        return Placement(placement.body, placement.body)
    return CHARSET_PUSHED


def inject(text: str, snippet: Snippet) -> InjectionResult:
    """Insert the snippet into ``text``; on any doubt return ``text`` unchanged with a reason."""
    if not text or text.isspace():
        return InjectionResult(text, EMPTY_FILE)
    # One scan serves both steps unless the page already carries our tags (a rebuild's output).
    scanned = scan(text)
    base = remove_tracker(text, scanned)
    placement = plan(base, scanned if base is text else None)
    if isinstance(placement, Placement) and placement.charset_at is not None:
        placement = _keep_charset_visible(base, placement, snippet)
    if isinstance(placement, str):
        return InjectionResult(text, placement)
    inserts = [(placement.head, snippet.head), (placement.body, snippet.body)]
    output = "".join(_iter_insert(base, inserts))
    if not placement.ordinary:
        stub_in_head = placement.head != placement.body
        problem = verify_insertion(output, snippet.head, snippet.body, stub_in_head=stub_in_head)
        if problem is not None:
            return InjectionResult(text, problem)
    return InjectionResult(output)


@dataclass(frozen=True)
class BytesInjectionResult(_Outcome):
    data: bytes
    encoding: str
    skipped_reason: str | None = None


def inject_bytes(data: bytes, snippet: Snippet) -> BytesInjectionResult:
    """:func:`inject` for a page read as bytes: the output keeps the page's own encoding."""
    encoding = charset.detect(data)
    try:
        # surrogateescape keeps bytes the codec does not map (e.g. 0x81 in windows-1252).
        text = data.decode(encoding, "surrogateescape")
        lossless = text.encode(encoding, "surrogateescape") == data
    except (UnicodeError, LookupError):
        lossless = False
    if not lossless:
        reason = f"its bytes do not decode and re-encode unchanged as {encoding}"
        return BytesInjectionResult(data, encoding, reason)
    result = inject(text, snippet)
    if result.skipped_reason is not None:
        return BytesInjectionResult(data, encoding, result.skipped_reason)
    return BytesInjectionResult(result.html.encode(encoding, "surrogateescape"), encoding)
