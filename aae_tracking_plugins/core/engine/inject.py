"""Insert the stub and the tracker into a page's original text, where a browser runs them.

Place, then verify (docs/engine.md): :mod:`.placement` chooses candidate spots by plain
searches and accepts a candidate only when an HTML5 parse of the output (Lexbor, :mod:`.verify`)
shows both inserted scripts whole and running: the stub first in ``<head>``, the tracker in
``<body>``, neither in ``<template>``, SVG/MathML, ``<noscript>`` or raw text. The text is
never re-serialised: the output is the input with two insertions, every other character
untouched. When no candidate is confirmed the page is left exactly as it was, with the reason.

Our own tags (the scripts, and the Facebook Pixel's ``<noscript>`` fallback right after the
tracker when the page has a Pixel) carry ``data-aae-tracking``; they are removed before
placing, so injecting twice gives the page injecting once gives, and re-injecting with other
ids (or another Pixel id, or none) replaces the old tags. A consent manager's gating of the
old tracker tag (:mod:`.gating`) is put on the new one, unless the new one names its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from aae_tracking_plugins.core.engine import charset, search
from aae_tracking_plugins.core.engine.gating import old_gating, with_gating
from aae_tracking_plugins.core.engine.placement import (
    CHARSET_PUSHED,
    Failed,
    Placed,
    Source,
    first_candidate,
    place,
)
from aae_tracking_plugins.core.engine.refresh import refresh_target, refresh_url
from aae_tracking_plugins.core.engine.search import (
    MARKER_ATTRIBUTE,
    MarkedTag,
    find_tracker_tags,
    marker_value,
)
from aae_tracking_plugins.core.engine.verify import (
    AMP_ATTRIBUTES,
    PageFacts,
    check_candidate,
    page_facts,
    parse,
)

__all__ = [
    "AMP_ATTRIBUTES",
    "AMP_PAGE",
    "CHARSET_PUSHED",
    "EMPTY_FILE",
    "FRAMESET",
    "HEAD_ONLY",
    "MARKER_ATTRIBUTE",
    "NOT_A_PAGE",
    "NO_MARKUP",
    "REDIRECT",
    "BytesInjectionResult",
    "InjectionResult",
    "MarkedTag",
    "Snippet",
    "Speculation",
    "find_tracker_tags",
    "inject",
    "inject_bytes",
    "refresh_target",
    "refresh_url",
    "remove_tracker",
    "speculate",
]

EMPTY_FILE = "the file is empty"
NO_MARKUP = "no HTML markup in the file"
#: A page whose ``<meta http-equiv="refresh">`` sends the visitor to another URL (see
#: :func:`.refresh.refresh_target`), with or without a fallback body: a redirect is not a visit.
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
FRAMESET = "frameset documents cannot run scripts in their body"
#: Reasons that mean "not a web page at all" (e.g. a search-engine verification file, a
#: redirect): such files are left alone quietly, without a warning.
NOT_A_PAGE = frozenset({EMPTY_FILE, NO_MARKUP, REDIRECT})


@dataclass(frozen=True)
class Snippet:
    """What to insert: a tiny queue stub for early in ``<head>``, the tracker for the body's end."""

    head: str
    body: str


class Outcome:
    """What every engine result says besides the page: whether it was tracked, and why not."""

    #: ``None`` when the tracker was placed; otherwise why the page was left byte-for-byte alone.
    skipped_reason: str | None

    @property
    def injected(self) -> bool:
        """Whether the tags were placed (the page changed)."""
        return self.skipped_reason is None

    @property
    def worth_a_warning(self) -> bool:
        """Left alone although it is a web page (not merely an empty or non-HTML file)."""
        return self.skipped_reason is not None and self.skipped_reason not in NOT_A_PAGE


@dataclass(frozen=True)
class InjectionResult(Outcome):
    """The page after :func:`inject`: ``html`` is the new page, or the input when skipped."""

    html: str
    skipped_reason: str | None = None


def _without_ours(text: str) -> str | tuple[str]:
    """``text`` without our tags, or ``(reason,)`` when that cannot be done safely.

    Our tags are found by a plain search for their marker (:func:`.search.find_tracker_tags`),
    and removed only when they are exactly the marked elements an HTML5 parse of ``text``
    shows: same tags, same marker values, same text, in the same order. A page whose parse shows
    no marked element keeps its text (a tag of ours quoted in a comment is no tag).
    """
    tags = find_tracker_tags(text)
    parsed = parse(text).css(f"[{MARKER_ATTRIBUTE}]")
    if not parsed:
        return text
    seen = [
        (node.tag, node.attributes.get(MARKER_ATTRIBUTE) or "", node.text(deep=True))
        for node in parsed
    ]
    found = [(tag.name, marker_value(tag) or "", _as_parsed(text, tag)) for tag, _end in tags]
    if found != seen:
        return (
            f"the page carries {len(seen)} elements marked {MARKER_ATTRIBUTE}, and a plain "
            f"search finds {len(found)} tags of ours that do not match them one to one",
        )
    pieces, pos = [], 0
    for tag, end in tags:
        pieces.append(text[pos : tag.start])
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _as_parsed(text: str, tag: MarkedTag) -> str:
    """The element's text as the parser reads it: line ends normalised, NUL replaced (HTML
    standard, 13.2.3.5 "Preprocessing the input stream"; 13.2.5.3 "RAWTEXT state")."""
    content = text[tag.end : tag.content_end]
    return content.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def remove_tracker(text: str) -> str:
    """The page without our tags (what it was before injection).

    Args:
        text: a page, with or without tags of ours.

    Returns:
        ``text`` without the elements marked ``data-aae-tracking``; ``text`` itself when it has
        none, or when the tags a plain search finds are not exactly the marked elements an HTML5
        parse shows (the engine then leaves such a page alone, with the reason).
    """
    if not search.contains_marker(text):
        return text
    removed = _without_ours(text)
    return text if isinstance(removed, tuple) else removed


def inject(text: str, snippet: Snippet) -> InjectionResult:
    """Insert the snippet into ``text`` where a browser runs it, or leave ``text`` unchanged.

    Args:
        text: the whole page.
        snippet: the stub and the tracker (:func:`aae_tracking_plugins.core.tags.render_snippet`).

    Returns:
        An :class:`InjectionResult`: the page plus the two insertions (any earlier tags of ours
        replaced), or the page byte for byte with ``skipped_reason`` (see the module constants
        and docs/security-privacy.md for the reasons).

    Raises:
        Nothing of its own for any input text.
    """
    outcome = _place(text, snippet, None)
    if isinstance(outcome, str):
        return InjectionResult(text, outcome)
    assert isinstance(outcome.output, str)  # placed in the text (no bytes given)
    return InjectionResult(outcome.output)


@dataclass(frozen=True)
class Speculation:
    """A page with the tags at the spots :func:`inject` tries first, before the parse that
    confirms them (:func:`speculate`); :meth:`settle` gives what :func:`inject` gives.

    The common page needs exactly one parse, and the parse is most of the cost: an integration
    can hand ``output`` on at once and call :meth:`settle` elsewhere (a worker thread: the
    parser releases the GIL), replacing ``output`` with the settled page when they differ.
    """

    #: The page with both insertions, not yet confirmed by a parse.
    output: str
    #: The page as given to :func:`speculate`.
    original: str
    snippet: Snippet
    stub_in_head: bool

    def settle(self) -> InjectionResult:
        """Parse :attr:`output` once: the result :func:`inject` gives for :attr:`original`.

        Returns:
            ``InjectionResult(output)`` when the parse confirms the spots and the page is a
            visit (no redirect, AMP page, frameset or head-only page); otherwise the result of
            :func:`inject` on :attr:`original`, which tries the other spots.

        Raises:
            Nothing of its own; safe to call from any thread.
        """
        head, body = self.snippet.head, self.snippet.body
        verdict = check_candidate(self.output, head, body, stub_in_head=self.stub_in_head)
        if verdict.problem is None and _not_a_visit(self.original, verdict.facts) is None:
            return InjectionResult(self.output)
        return inject(self.original, self.snippet)


def speculate(text: str, snippet: Snippet) -> Speculation | InjectionResult:
    """The page with the tags where :func:`inject` tries them first, without parsing it yet.

    Args:
        text: the whole page; snippet: the stub and the tracker.

    Returns:
        A :class:`Speculation` for a page with markup and no tags of ours (whose
        :meth:`Speculation.settle` equals ``inject(text, snippet)``); for any other page (empty,
        no markup, earlier tags of ours to replace, no first spot) the settled
        :class:`InjectionResult` of :func:`inject` itself.

    Raises:
        Nothing of its own for any input text.
    """
    if not text or text.isspace() or search.contains_marker(text) or not search.has_markup(text):
        return inject(text, snippet)
    first = first_candidate(Source(text), snippet.head, snippet.body)
    if first is None:
        return inject(text, snippet)
    assert isinstance(first.output, str)  # placed in the text (no bytes given)
    return Speculation(first.output, text, snippet, first.stub_in_head)


def _place(text: str, snippet: Snippet, data: bytes | None) -> Placed | str:
    """The accepted candidate for ``text`` (``data``: its UTF-8 bytes, if read as such), or the
    reason to leave the page alone."""
    if not text or text.isspace():
        return EMPTY_FILE
    base = text
    if search.contains_marker(text):
        removed = _without_ours(text)
        if isinstance(removed, tuple):
            return removed[0]
        if removed is not text:
            base, data = removed, None  # the bytes no longer match: place in the text
            # A consent manager's gating stays: never a tag that runs without consent.
            kept = old_gating(text)
            if kept is not None:
                snippet = Snippet(snippet.head, with_gating(snippet.body, kept))
    if not search.has_markup(base):
        return NO_MARKUP
    outcome = place(Source(base, data), snippet.head, snippet.body)
    if isinstance(outcome, Failed):
        return _refusal(base, outcome)
    return _not_a_visit(base, outcome.verdict.facts) or outcome


def _not_a_visit(text: str, facts: PageFacts) -> str | None:
    """Why a page whose tags could be placed is still left alone, if it is."""
    if facts.redirect is not None:
        return REDIRECT
    if facts.amp:
        return AMP_PAGE
    if facts.frameset:
        return FRAMESET
    if facts.body_empty and not search.has_body_tag(text):
        return HEAD_ONLY
    return None


def _refusal(text: str, failed: Failed) -> str:
    """The reason a page with no confirmed candidate is left alone.

    The page's own facts come first, from a parse of the page itself (a failed candidate can
    have changed how the rest parses): a redirect, AMP, a frameset. Then what the candidate at
    the end of the page ran into: a page whose body never started (the tracker ran in
    ``<head>``), or something the page never closes. Else the best candidate's reason.
    """
    facts = page_facts(parse(text))
    reason = _not_a_visit(text, facts)
    if reason in (REDIRECT, AMP_PAGE, FRAMESET):
        return reason
    if failed.reason is not None:
        return failed.reason
    at_end = next((a for a in failed.attempts if a.kind == "end"), None)
    if at_end is not None and not at_end.tracker_ok:
        if at_end.tracker_in_head and reason == HEAD_ONLY:
            return HEAD_ONLY
        if at_end.ends_inside is not None:
            what = at_end.ends_inside
            return f"the page ends inside an unclosed {what}: anything appended is swallowed"
    if not failed.attempts:
        return "no spot for the stub before the tracker"
    first = failed.attempts[0].problem or "no candidate spot was confirmed"
    if failed.gave_up:
        return f"{first} (and at the other spots tried)"
    return first


@dataclass(frozen=True)
class BytesInjectionResult(Outcome):
    """The page after :func:`inject_bytes`: ``data`` in the page's own ``encoding``."""

    data: bytes
    encoding: str
    skipped_reason: str | None = None


def inject_bytes(data: bytes, snippet: Snippet) -> BytesInjectionResult:
    """:func:`inject` for a page read as bytes: the output keeps the page's own encoding.

    Args:
        data: the page as stored.
        snippet: the stub and the tracker.

    Returns:
        A :class:`BytesInjectionResult` with the encoding a browser reads the page in
        (:func:`.charset.detect`); ``data`` unchanged, with the reason, when the page is left
        alone or its bytes do not decode and re-encode unchanged in that encoding.
    """
    encoding = charset.detect(data)
    if encoding == "utf-8":
        # surrogateescape makes UTF-8 decoding lossless: every byte comes back as it was.
        text = data.decode(encoding, "surrogateescape")
        outcome = _place(text, snippet, data)
        if isinstance(outcome, str):
            return BytesInjectionResult(data, encoding, outcome)
        output = outcome.output
        if isinstance(output, str):
            output = output.encode(encoding, "surrogateescape")
        return BytesInjectionResult(output, encoding)
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
