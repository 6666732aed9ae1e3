"""Decide where the tracker goes in a page and insert it into the page's original text.

Placement follows what a browser's HTML parser would do with the page: a scan that tokenizes the way
the HTML standard does (comments, raw-text elements such as ``<script>`` and ``<textarea>``, quoted
attribute values, ``<template>``, inline ``<svg>``/``<math>``) finds the real ``<head>``, ``<meta
charset>`` and ``</body>`` tags. The text is never re-serialised: the output is the input with two
insertions, every other character untouched. lxml then parses the result and must agree that both
scripts ended up where they execute; when it does not, the page is left exactly as it was and the
reason is reported, rather than shipping a page we do not understand.

Our own tags carry ``data-aae-tracking``; they are removed before planning, so injecting twice gives
the page injecting once gives, and re-injecting with other ids replaces the old tracker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from . import charset

MARKER_ATTRIBUTE = "data-aae-tracking"
EMPTY_FILE = "the file is empty"
NO_MARKUP = "no HTML markup in the file"
#: Reasons that mean "not a web page at all" (e.g. a search-engine verification file): such files
#: are left alone quietly, without a warning.
NOT_A_PAGE = frozenset({EMPTY_FILE, NO_MARKUP})

_WS = "\t\n\f\r "
_TAG_REST = re.compile(
    r"""(?:[\t\n\f\r /]
        | [^\t\n\f\r />][^\t\n\f\r />=]*
          (?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"]*"|'[^']*'|[^\t\n\f\r >]*))?
       )*(>)?""",
    re.VERBOSE,
)
_TAG_NAME = re.compile(r"[^\t\n\f\r />]*")
_ATTRIBUTE = re.compile(
    r"""([^\t\n\f\r />][^\t\n\f\r />=]*)
        (?:[\t\n\f\r ]*=[\t\n\f\r ]*("[^"]*"|'[^']*'|[^\t\n\f\r >]*))?""",
    re.VERBOSE,
)
_COMMENT_END = re.compile(r"--!?>")
_ANY_MARKUP = re.compile(r"<[A-Za-z!?/]")

_RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "noscript"})
_RCDATA = frozenset({"title", "textarea"})
_SVG_HTML_POINTS = frozenset({"foreignobject", "desc", "title"})
_MATH_HTML_POINTS = frozenset({"mi", "mo", "mn", "ms", "mtext", "annotation-xml"})
# Start tags that make a browser leave <svg>/<math> content (HTML standard, "rules for parsing
# tokens in foreign content").
_FOREIGN_BREAKOUT = frozenset(
    {
        "b",
        "big",
        "blockquote",
        "body",
        "br",
        "center",
        "code",
        "dd",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "hr",
        "i",
        "img",
        "li",
        "listing",
        "menu",
        "meta",
        "nobr",
        "ol",
        "p",
        "pre",
        "ruby",
        "s",
        "small",
        "span",
        "strong",
        "strike",
        "sub",
        "sup",
        "table",
        "tt",
        "u",
        "ul",
        "var",
    }
)
_SCRIPT_STATES = {
    "data": re.compile(r"<!--|</script(?=[\t\n\f\r />])", re.IGNORECASE),
    "escaped": re.compile(r"-->|</script(?=[\t\n\f\r />])|<script(?=[\t\n\f\r />])", re.IGNORECASE),
    "double": re.compile(r"-->|</script(?=[\t\n\f\r />])", re.IGNORECASE),
}


@dataclass(frozen=True)
class Snippet:
    """What to insert: a tiny queue stub for early in ``<head>``, the tracker for the body's end."""

    head: str
    body: str


@dataclass(frozen=True)
class InjectionResult:
    html: str
    #: ``None`` when the tracker was placed; otherwise why the page was left byte-for-byte alone.
    skipped_reason: str | None = None

    @property
    def injected(self) -> bool:
        return self.skipped_reason is None

    @property
    def worth_a_warning(self) -> bool:
        """Left alone although it is a web page (not merely an empty or non-HTML file)."""
        return self.skipped_reason is not None and self.skipped_reason not in NOT_A_PAGE


@dataclass(frozen=True)
class Tag:
    """A real tag as a browser's tokenizer sees it (not text inside a comment, script, ...)."""

    name: str  # lower case
    start: int
    end: int  # index after the closing '>'
    is_end_tag: bool
    raw: str  # the whole tag text
    #: Namespace context: "html", "foreign" (inside <svg>/<math>) or "template".
    context: str
    self_closing: bool = False

    def attributes(self) -> dict[str, str]:
        return parse_attributes(self.raw)


@dataclass
class ScanResult:
    tags: list[Tag] = field(default_factory=list)
    #: Where the tokenizer was when the text ran out. Anything appended at the end of a page that
    #: ends inside a comment, a script or a tag would be swallowed by it.
    eof_state: str = "data"
    #: The namespace/template nesting still open at the end of the text.
    eof_context: str = "html"
    #: Raw-text elements (script, style, ...): start tag, content start, content end.
    raw_elements: list[tuple[Tag, int, int]] = field(default_factory=list)
    #: Index after the DOCTYPE, when the page has one before its first tag.
    doctype_end: int | None = None
    #: 1 after a byte order mark, else 0.
    content_start: int = 0


def _always(match: re.Match[str] | None) -> re.Match[str]:
    """For patterns that can match the empty string, so they match at every position."""
    assert match is not None
    return match


def parse_attributes(raw_tag: str) -> dict[str, str]:
    """Attributes of a tag's text, first occurrence wins (as in browsers)."""
    name_end = _always(_TAG_NAME.match(raw_tag, 1 + (raw_tag[1:2] == "/"))).end()
    result: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(raw_tag, name_end, len(raw_tag) - (raw_tag[-1:] == ">")):
        name = match.group(1).lower()
        value = match.group(2) or ""
        if value[:1] in ('"', "'"):
            value = value[1:-1]
        result.setdefault(name, value)
    return result


class _Nesting:
    """Just enough of the tree builder to know the namespace the tokenizer is in."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []  # (kind, tag name); kind: foreign|html|template

    @property
    def context(self) -> str:
        kinds = [kind for kind, _ in self.stack]
        if "template" in kinds:
            return "template"
        return "foreign" if kinds and kinds[-1] == "foreign" else "html"

    @property
    def in_html(self) -> bool:
        return not self.stack or self.stack[-1][0] != "foreign"

    def start(self, name: str, self_closing: bool, raw: str) -> None:
        if self.in_html:
            if name in ("svg", "math") and not self_closing:
                self.stack.append(("foreign", name))
            elif name == "template":
                self.stack.append(("template", name))
            return
        if name in _FOREIGN_BREAKOUT or (
            name == "font" and {"color", "face", "size"} & parse_attributes(raw).keys()
        ):
            while self.stack and self.stack[-1][0] == "foreign":
                self.stack.pop()
            return
        if self_closing:
            return
        root = next(tag for kind, tag in reversed(self.stack) if kind == "foreign")
        points = _SVG_HTML_POINTS if root == "svg" else _MATH_HTML_POINTS
        if name in points:
            self.stack.append(("html", name))
        elif name in ("svg", "math"):
            self.stack.append(("foreign", name))

    def end(self, name: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][1] == name:
                del self.stack[depth:]
                return
            if self.stack[depth][0] == "template" and name != "template":
                return  # end tags do not reach outside a template


# Tags the scan must see. Every other tag (and all text) is skipped inside the regex engine, so
# the Python loop below runs once per interesting token, not once per tag.
_HTML_INTERESTING = (
    "script|style|xmp|iframe|noembed|noframes|noscript|title|textarea|plaintext|"
    "template|svg|math|head|meta|body|html|frameset"
)
_NAME_END = r"(?=[\t\n\f\r />])"
# Attribute names and unquoted values are matched maximally (the lookaheads), so a tag that never
# closes fails in linear time instead of backtracking through every way to split its attributes.
_ATTRS = (
    r"""(?:[\t\n\f\r /]+"""
    r"""|[^\t\n\f\r />][^\t\n\f\r />=]*(?![^\t\n\f\r />=])"""
    r"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"[^"]*"|'[^']*'|[^\t\n\f\r >]*(?![^\t\n\f\r >])))?)*"""
)
_SKIP_HTML = re.compile(
    rf"""(?:[^<]+
        |<(?![!?/A-Za-z])
        |<(?!(?i:{_HTML_INTERESTING}){_NAME_END})[A-Za-z][^\t\n\f\r />]*{_ATTRS}>
        |</(?!(?i:body|html|template|svg|math){_NAME_END})[A-Za-z][^\t\n\f\r />]*{_ATTRS}>
       )*""",
    re.VERBOSE,
)
_SKIP_TEXT = re.compile(r"(?:[^<]+|<(?![!?/A-Za-z]))*")


def scan(text: str) -> ScanResult:
    """Tokenize ``text`` as a browser would and return its real tags.

    Only tags that matter for placement are returned (head, meta, body, html, frameset,
    template, svg/math, raw-text elements and every tag inside svg/math); comments, DOCTYPE and
    all other tags are stepped over with the same tokenization rules.
    """
    result = ScanResult(content_start=1 if text.startswith("\ufeff") else 0)
    nesting = _Nesting()
    length = len(text)
    pos = 0
    while True:
        skip = _SKIP_HTML if nesting.in_html else _SKIP_TEXT
        lt = _always(skip.match(text, pos)).end()
        if lt + 1 >= length:
            break
        nxt = text[lt + 1]
        if nxt == "!":
            if text.startswith("<!--", lt):
                if text.startswith(">", lt + 4):
                    pos = lt + 5
                    continue
                if text.startswith("->", lt + 4):
                    pos = lt + 6
                    continue
                match = _COMMENT_END.search(text, lt + 4)
                if match is None:
                    result.eof_state = "comment"
                    break
                pos = match.end()
                continue
            if not nesting.in_html and text.startswith("<![CDATA[", lt):
                close = text.find("]]>", lt + 9)
                if close < 0:
                    result.eof_state = "cdata"
                    break
                pos = close + 3
                continue
            close = text.find(">", lt + 2)  # DOCTYPE or a bogus comment
            if close < 0:
                result.eof_state = "comment"
                break
            if not result.tags and text[lt + 2 : lt + 9].lower() == "doctype":
                result.doctype_end = close + 1
            pos = close + 1
            continue
        if nxt == "?":
            close = text.find(">", lt + 2)
            if close < 0:
                result.eof_state = "comment"
                break
            pos = close + 1
            continue
        is_end = nxt == "/"
        name_start = lt + 2 if is_end else lt + 1
        first = text[name_start : name_start + 1]
        if not (first.isascii() and first.isalpha()):
            # The skip pattern leaves only "</" + non-letter here: "</>" is dropped, the rest
            # is a bogus comment up to the next ">".
            close = name_start if first == ">" else text.find(">", name_start)
            if close < 0:
                result.eof_state = "comment"
                break
            pos = close + 1
            continue
        name_end = _always(_TAG_NAME.match(text, name_start)).end()
        rest = _always(_TAG_REST.match(text, name_end))
        if rest.group(1) is None:
            result.eof_state = "tag"
            break
        end = rest.end()
        name = text[name_start:name_end].lower()
        raw = text[lt:end]
        self_closing = not is_end and raw.endswith("/>")
        tag = Tag(name, lt, end, is_end, raw, nesting.context, self_closing)
        result.tags.append(tag)
        pos = end
        if is_end:
            nesting.end(name)
            continue
        html_ns = nesting.in_html
        nesting.start(name, self_closing, raw)
        if not html_ns:
            continue
        if name == "script":
            content_end, close_end = _skip_script(text, end)
        elif name in _RAWTEXT or name in _RCDATA:
            content_end, close_end = _skip_raw(text, end, name)
        elif name == "plaintext":
            result.eof_state = "plaintext"
            break
        else:
            continue
        if close_end is None:
            result.eof_state = name
            break
        result.raw_elements.append((tag, end, content_end))
        raw_close = text[content_end:close_end]
        result.tags.append(Tag(name, content_end, close_end, True, raw_close, nesting.context))
        pos = close_end
    result.eof_context = nesting.context
    return result


def _close_tag_end(text: str, at: int, name: str) -> int | None:
    rest = _always(_TAG_REST.match(text, at + 2 + len(name)))
    return rest.end() if rest.group(1) is not None else None


def _skip_raw(text: str, start: int, name: str) -> tuple[int, int | None]:
    pattern = re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE)
    match = pattern.search(text, start)
    if match is None:
        return len(text), None
    return match.start(), _close_tag_end(text, match.start(), name)


def _skip_script(text: str, start: int) -> tuple[int, int | None]:
    """Find the end of a script element's content, honouring the ``<!-- <script>`` escape states."""
    state = "data"
    pos = start
    while True:
        match = _SCRIPT_STATES[state].search(text, pos)
        if match is None:
            return len(text), None
        token = match.group(0).lower()
        if token == "<!--":
            state, pos = "escaped", match.start() + 2  # its "--" may already close with ">"
        elif token == "-->":
            state, pos = "data", match.end()
        elif token == "<script":
            state, pos = "double", match.end()
        elif state == "double":  # "</script" inside a double-escaped block only unescapes
            state, pos = "escaped", match.end()
        else:
            return match.start(), _close_tag_end(text, match.start(), "script")


def find_tracker_tags(text: str, scanned: ScanResult | None = None) -> list[tuple[Tag, int]]:
    """Our own script tags in a page: each start tag with the index after its ``</script>``."""
    scanned = scanned or scan(text)
    found = []
    for tag, _content_start, content_end in scanned.raw_elements:
        # Cheap substring test first; only then parse the attributes.
        is_ours = tag.name == "script" and MARKER_ATTRIBUTE in tag.raw.lower()
        if is_ours and MARKER_ATTRIBUTE in tag.attributes():
            close = _close_tag_end(text, content_end, "script")
            found.append((tag, close if close is not None else content_end))
    return found


def remove_tracker(text: str) -> str:
    """The page without any of our script tags (what it was before injection)."""
    if MARKER_ATTRIBUTE not in text:  # the usual case: skip the scan
        return text
    spans = [(tag.start, end) for tag, end in find_tracker_tags(text)]
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


def plan(text: str, scanned: ScanResult | None = None) -> Placement | str:
    """Where the stub and the tracker go, or the reason they cannot go anywhere safe."""
    scanned = scanned or scan(text)
    tags = [tag for tag in scanned.tags if tag.context == "html"]
    if not _ANY_MARKUP.search(text):
        return NO_MARKUP
    if any(tag.name == "frameset" and not tag.is_end_tag for tag in tags):
        return "frameset documents cannot run scripts in their body"

    body_at: int | None = None
    body_ends = [t for t in scanned.tags if t.is_end_tag and t.name == "body"]
    body_ends = [t for t in body_ends if t.context != "template"]
    if body_ends:
        last = body_ends[-1]
        if last.context != "html":
            return "the body ends inside an unclosed <svg> or <math> element"
        body_at = last.start
    else:
        html_ends = [t for t in tags if t.is_end_tag and t.name == "html"]
        if html_ends:
            body_at = html_ends[-1].start
        elif scanned.eof_state != "data":
            state = scanned.eof_state
            return f"the page ends inside an unclosed {state} (no </body> to insert before)"
        elif scanned.eof_context != "html":
            return "the page ends inside an unclosed <template>, <svg> or <math> element"
        else:
            body_at = len(text)

    head_at = _head_position(tags, scanned)
    if head_at > body_at:
        head_at = body_at
    return Placement(head_at, body_at)


def _head_position(tags: list[Tag], scanned: ScanResult) -> int:
    head_start = next((t for t in tags if t.name == "head" and not t.is_end_tag), None)
    if head_start is not None:
        # Stay after <meta charset>: browsers only look for it in the first 1024 bytes.
        for tag in tags:
            if tag.start < head_start.end:
                continue
            if tag.name in ("body",) or (tag.name == "head" and tag.is_end_tag):
                break
            if tag.name == "meta" and not tag.is_end_tag and _declares_charset(tag):
                return tag.end
        return head_start.end
    html_start = next((t for t in tags if t.name == "html" and not t.is_end_tag), None)
    if html_start is not None:
        return html_start.end
    # After a DOCTYPE (a script before it would put the page in quirks mode) and a BOM.
    if scanned.doctype_end is not None:
        return scanned.doctype_end
    return scanned.content_start


def _declares_charset(tag: Tag) -> bool:
    attrs = tag.attributes()
    return "charset" in attrs or attrs.get("http-equiv", "").lower() == "content-type"


_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=False, recover=True)


def _script_text(tag: str) -> str:
    return tag[tag.index(">") + 1 : tag.rindex("</")]


def _confirm_with_lxml(text: str, snippet: Snippet) -> str | None:
    """Parse the injected page with lxml: both scripts must come out as whole script elements.

    libxml2 tokenizes as the HTML standard does, so this catches an insertion that landed inside
    a comment, an attribute or another element's text. Its tree builder predates HTML5 (it reads
    <noscript> content as markup, and knows no <template>), so where in the tree the tracker
    sits is decided by the HTML5 rules in :func:`scan`, checked against html5lib in the tests.
    """
    try:
        root = lxml_html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        return f"lxml could not parse the page ({exc})"
    found = root.xpath(f"//script[@{MARKER_ATTRIBUTE}]")
    kinds = [element.get(MARKER_ATTRIBUTE) for element in found]
    if kinds != ["stub", "tracker"]:
        return f"lxml sees the inserted scripts as {kinds or 'missing'}, not a stub then a tracker"
    for element, tag in zip(found, (snippet.head, snippet.body), strict=True):
        if (element.text or "") != _script_text(tag):
            return "lxml does not see the inserted script text intact"
    return None


def _iter_insert(text: str, inserts: list[tuple[int, str]]) -> Iterator[str]:
    pos = 0
    for at, piece in sorted(inserts, key=lambda item: item[0]):
        yield text[pos:at]
        yield piece
        pos = at
    yield text[pos:]


def inject(text: str, snippet: Snippet) -> InjectionResult:
    """Insert the snippet into ``text``; on any doubt return ``text`` unchanged with a reason."""
    if not text.strip():
        return InjectionResult(text, EMPTY_FILE)
    base = remove_tracker(text)
    placement = plan(base)
    if isinstance(placement, str):
        return InjectionResult(text, placement)
    inserts = [(placement.head, snippet.head), (placement.body, snippet.body)]
    output = "".join(_iter_insert(base, inserts))
    problem = _confirm_with_lxml(output, snippet)
    if problem is not None:
        return InjectionResult(text, problem)
    return InjectionResult(output)


@dataclass(frozen=True)
class BytesInjectionResult:
    data: bytes
    encoding: str
    skipped_reason: str | None = None

    @property
    def injected(self) -> bool:
        return self.skipped_reason is None

    @property
    def worth_a_warning(self) -> bool:
        """Left alone although it is a web page (not merely an empty or non-HTML file)."""
        return self.skipped_reason is not None and self.skipped_reason not in NOT_A_PAGE


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
