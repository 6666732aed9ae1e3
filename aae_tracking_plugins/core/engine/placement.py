"""Place, then verify: candidate spots from plain searches, each confirmed by an HTML5 parse.

The tracker's candidates, best first (:func:`tracker_candidates`): right before each ``</body``
from the last to the first; the end of the page; then, for a page that ends inside something it
never closes (a comment, a script or other raw-text element, ``<template>``, ``<svg>``/``<math>``,
``<plaintext>``), right before each opening of such a construct, latest first. A browser runs a
script there: it comes before the construct that swallows the rest.

The stub's candidates (:func:`stub_candidates`): right after a ``<meta charset>`` declaration
that the encoding prescan finds in the first 1024 bytes, when nothing but head content precedes
it; right after the ``<head>`` start tag; after the ``<html>`` start tag; after the DOCTYPE (never
before it: a script there changes the document mode); the start of the page. A spot that would
push the declaration out of the first 1024 bytes is no candidate; when that leaves none, the
stub goes right before the tracker.

Each pair is inserted into the text and parsed once (:func:`.verify.check_candidate`); the
verdict says which of the two was wrong, and only that one moves on to its next candidate. At
most :data:`MAX_PARSES` pairs are parsed per page, so a pathological page costs a bounded
multiple of one parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from aae_tracking_plugins.core.engine import charset, search
from aae_tracking_plugins.core.engine.verify import Verdict, check_candidate, unclosed_at_end

__all__ = [
    "MAX_PARSES",
    "Attempt",
    "Declaration",
    "Failed",
    "FirstCandidate",
    "Placed",
    "Source",
    "first_candidate",
    "place",
]

#: Candidate pairs parsed per page at most (the common page needs one).
MAX_PARSES = 8
#: The insertions would move the page's charset declaration out of the prescan's reach.
CHARSET_PUSHED = (
    "the tracker would push the page's <meta charset> out of the first 1024 bytes, where "
    "browsers look for it"
)
_SCRIPT_OR_BODY = re.compile(r"<(?:[sS][cC][rR][iI][pP][tT]|[bB][oO][dD][yY])(?=[\t\n\f\r />])")


@dataclass(frozen=True)
class Declaration:
    """The page's charset declaration, which must stay within the first 1024 bytes."""

    start: int
    end: int
    #: The page's bytes up to the declaration's end, counted as UTF-8 without a byte order mark.
    size: int

    def fits(self, pushed: int) -> bool:
        """Whether the declaration still ends within the first 1024 bytes when ``pushed``
        characters (ASCII: our tags are) are inserted before it."""
        return self.size + pushed <= charset.PRESCAN_BYTES


def declaration(text: str) -> Declaration | None:
    """The charset declaration a browser's prescan finds at the start of ``text``, if any.

    Browsers find a ``<meta charset>`` only in the first 1024 bytes (HTML standard, 13.2.3.2
    "Prescan a byte stream to determine its encoding"). Bytes are counted as UTF-8, which never
    has fewer bytes for a character than the page's own encoding (windows-1252, Shift_JIS, ...:
    the ones a ``<meta>`` can declare), so the page's bytes and its text get the same decision.
    A byte order mark (which makes browsers skip the prescan) is not counted, so that a page
    gets the same decision with or without one.
    """
    bom = 1 if text.startswith("\ufeff") else 0
    found = charset.prescan(text[bom : bom + charset.PRESCAN_BYTES])
    if found is None:
        return None
    start, end = found.start + bom, found.end + bom
    return Declaration(start, end, len(text[bom:end].encode("utf-8", "surrogatepass")))


def stub_candidates(text: str, declared: Declaration | None, stub: str) -> tuple[list[int], bool]:
    """Spots for the stub, best first, and whether one was dropped for the charset rule.

    Args:
        text: the page (without tags of ours).
        declared: its charset declaration (:func:`declaration`).
        stub: the stub's markup (its length is what an insertion pushes).
    """
    head = search.first_start_tag(text, "head")
    html = search.first_start_tag(text, "html")
    first_tag = min((tag[0] for tag in (head, html) if tag is not None), default=None)
    floor = search.doctype_end(text, first_tag) or (1 if text.startswith("\ufeff") else 0)
    spots = []
    base = head[1] if head else html[1] if html else floor
    if (
        declared is not None
        and declared.start >= base
        and _SCRIPT_OR_BODY.search(text, base, declared.start) is None
    ):
        spots.append(declared.end)  # after the declaration, before the head's scripts
    spots += [tag[1] for tag in (head, html) if tag is not None]
    spots.append(floor)
    spots = [spot for spot in dict.fromkeys(spots) if spot >= floor]
    if declared is None or declared.fits(len(stub)):
        return spots, False
    kept = [spot for spot in spots if spot >= declared.end]
    return kept, len(kept) < len(spots)


def tracker_candidates(text: str) -> Iterator[tuple[int, str]]:
    """Spots for the tracker, best first, each with its kind: ``"body-end"`` (before a
    ``</body``), ``"html-end"`` (before a ``</html``), ``"end"`` (the end of the page) or
    ``"opener"`` (before a construct that a page ending inside it leaves open)."""
    for at, name in search.body_and_html_ends(text):
        yield at, f"{name}-end"
    yield len(text), "end"
    for at in search.opener_candidates(text):
        yield at, "opener"


@dataclass(frozen=True)
class Attempt:
    """One parsed candidate that was not accepted: where the tracker went, of which kind, and
    what the parse said (without the parse itself: a large page's tree is not kept)."""

    tracker_at: int
    kind: str
    problem: str
    tracker_ok: bool
    #: The tracker ran, but in ``<head>`` (the page's body had not started there).
    tracker_in_head: bool
    #: For the end of the page, when the tracker did not run: what swallowed it
    #: (:func:`.verify.unclosed_at_end`: "comment", "<svg>", "tag", ...).
    ends_inside: str | None

    @classmethod
    def of(cls, tracker_at: int, kind: str, verdict: Verdict) -> Attempt:
        """The facts of one tried tracker spot (its offset and kind) kept from its verdict."""
        swallowed = kind == "end" and not verdict.tracker_ok and not verdict.tracker_in_head
        ends_inside = (
            unclosed_at_end(verdict.tree, verdict.tracker_blocked_by) if swallowed else None
        )
        return cls(
            tracker_at,
            kind,
            verdict.problem or "",
            verdict.tracker_ok,
            verdict.tracker_in_head,
            ends_inside,
        )


@dataclass(frozen=True)
class Placed:
    """An accepted candidate: the output and the verdict of its parse."""

    output: str | bytes
    verdict: Verdict


@dataclass(frozen=True)
class Failed:
    """No candidate was accepted: the attempts parsed; ``reason`` is :data:`CHARSET_PUSHED`
    when a tracker spot was passed over because it would push the charset declaration out;
    ``gave_up`` when :data:`MAX_PARSES` were parsed."""

    attempts: tuple[Attempt, ...]
    reason: str | None = None
    gave_up: bool = False


@dataclass(frozen=True)
class Source:
    """The page to place the tags in: its text, and its UTF-8 bytes when it was read as such.

    With the bytes, candidates are spliced and parsed as bytes: the parser reads UTF-8 (a text
    would be encoded for it first), and the output needs no encoding either. Offsets found in
    the text are turned into byte offsets by encoding the shorter side of the page only.
    """

    text: str
    #: ``text`` as UTF-8 (``surrogateescape``: the page's undecodable bytes as they were).
    data: bytes | None = None

    def _byte_offset(self, at: int) -> int:
        text, data = self.text, self.data
        assert data is not None
        if at <= len(text) - at:
            return len(text[:at].encode("utf-8", "surrogateescape"))
        return len(data) - len(text[at:].encode("utf-8", "surrogateescape"))

    def insert(self, stub_at: int, tracker_at: int, head: str, body: str) -> str | bytes:
        """The page with ``head`` inserted at ``stub_at`` and ``body`` at ``tracker_at``
        (the stub first when both go to the same spot), as text or as UTF-8 bytes."""
        text, data = self.text, self.data
        if data is None:
            return "".join(
                (text[:stub_at], head, text[stub_at:tracker_at], body, text[tracker_at:])
            )
        end = self._byte_offset(tracker_at)
        start = end if stub_at == tracker_at else self._byte_offset(stub_at)
        pieces = (data[:start], head.encode(), data[start:end], body.encode(), data[end:])
        return b"".join(pieces)


def _pair(
    declared: Declaration | None, stubs: list[int], dropped: bool, at: int
) -> tuple[int, bool] | None:
    """Where the stub goes with the tracker at ``at``, and whether both go to ``at`` together;
    ``None`` when no spot is left for the stub. ``stubs`` are the stub spots still allowed."""
    usable = [spot for spot in stubs if spot <= at]
    together = not usable
    if together and not (dropped and declared is not None and at >= declared.end):
        return None
    return (at if together else usable[0]), together


def _pushes_out(declared: Declaration | None, at: int, head: str, body: str) -> bool:
    """Whether the tags at ``at`` would push the charset declaration out of its 1024 bytes."""
    return declared is not None and at <= declared.start and not declared.fits(len(head + body))


@dataclass(frozen=True)
class FirstCandidate:
    """The pair :func:`place` parses first, before any parse: the page with both insertions."""

    output: str | bytes
    #: The stub has a spot of its own in ``<head>`` (else it goes right before the tracker).
    stub_in_head: bool


def first_candidate(source: Source, head: str, body: str) -> FirstCandidate | None:
    """The candidate :func:`place` tries first, unparsed (``None`` when it would try none).

    A parse of ``output`` (:func:`.verify.check_candidate`) that shows no problem means
    :func:`place` returns that same output: integrations can hand a page on at once and have
    the parse done later, elsewhere (see :class:`.inject.Speculation`).
    """
    text = source.text
    declared = declaration(text)
    stubs, dropped = stub_candidates(text, declared, head)
    at, _kind = next(tracker_candidates(text))
    if _pushes_out(declared, at, head, body):
        return None
    pair = _pair(declared, stubs, dropped, at)
    if pair is None:
        return None
    stub_at, together = pair
    return FirstCandidate(source.insert(stub_at, at, head, body), not together)


def place(source: Source, head: str, body: str) -> Placed | Failed:
    """Find spots for the stub ``head`` and the tracker ``body`` that a parse confirms.

    Args:
        source: the page, without tags of ours.
        head: the stub's markup; body: the tracker's (and the Pixel fallback's).

    Returns:
        :class:`Placed` with the output (the page plus the two insertions, bytes when
        ``source`` has them), or :class:`Failed` with every attempt, after at most
        :data:`MAX_PARSES` parses.
    """
    text = source.text
    declared = declaration(text)
    stubs, dropped = stub_candidates(text, declared, head)
    trackers = tracker_candidates(text)
    attempts: list[Attempt] = []
    tracker: tuple[int, str] | None = next(trackers)
    tried: set[int] = set()
    skipped_stubs = 0
    pushed = False  # a tracker spot was passed over for the charset rule
    while tracker is not None and len(attempts) < MAX_PARSES:
        at, kind = tracker
        if _pushes_out(declared, at, head, body):
            pushed = True
            tried.add(at)
            tracker = next((item for item in trackers if item[0] not in tried), None)
            continue
        pair = _pair(declared, stubs[skipped_stubs:], dropped, at)
        if pair is None:
            break  # no spot left for the stub
        stub_at, together = pair
        output = source.insert(stub_at, at, head, body)
        verdict = check_candidate(output, head, body, stub_in_head=not together)
        if verdict.problem is None:
            return Placed(output, verdict)
        attempts.append(Attempt.of(at, kind, verdict))
        if verdict.foreign_marks:
            break  # marked elements we did not insert: no other spot changes that
        if not verdict.stub_ok and not together:
            skipped_stubs = stubs.index(stub_at) + 1
        if not verdict.tracker_ok or together:
            tried.add(at)
            tracker = next((item for item in trackers if item[0] not in tried), None)
    # Spots passed over for the charset rule, and none other confirmed: that rule is the reason.
    reason = CHARSET_PUSHED if pushed else None
    return Failed(tuple(attempts), reason, gave_up=len(attempts) >= MAX_PARSES)
