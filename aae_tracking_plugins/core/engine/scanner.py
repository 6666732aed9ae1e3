"""Tokenize a page the way a browser's HTML parser does, as far as placement needs.

The scan follows the tokenizer states of the HTML standard that can hide markup: comments, the
DOCTYPE and bogus comments, quoted attribute values, raw-text and RCDATA elements (``<script>``
with its ``<!--`` escape states, ``<style>``, ``<textarea>``, ``<title>``, ...), ``<plaintext>``,
and CDATA sections in foreign content. Of the tree builder it models only what changes how the
rest is tokenized or where a script would end up: ``<template>`` contents and ``<svg>``/``<math>``
(foreign content, its HTML integration points and the tags that break out of it).

Speed: text and the tags that do not matter are skipped inside the regex engine, so the Python loop
runs once per tag that matters (head, meta, body, scripts, svg icons, ...), not once per tag. That
search visits every "<" of the page, so it is built from case-sensitive literals (the fastest thing
for the regex engine to reject), with a case-blind check only where a capital letter appears in a
name that matters; comments are matched whole. ``scan(text, jump=False)`` tokenizes every tag, and
the tests hold the two against each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

MARKER_ATTRIBUTE = "data-aae-tracking"

_SPACE = r"\t\n\f\r "
_NAME_END = rf"(?=[{_SPACE}/>])"
# Attribute names and unquoted values are matched maximally (the lookaheads), so a tag that never
# closes fails in linear time instead of backtracking through every way to split its attributes.
# An attribute value: quoted, unquoted (never starting with a quote: a quote that never closes
# runs to the end of the file, as in browsers), or empty right before ">".
_VALUE = rf"""(?:"[^"]*"|'[^']*'|[^{_SPACE}>"'][^{_SPACE}>]*(?![^{_SPACE}>])|(?=>))"""


# Separators, names and unquoted values are matched maximally (the lookaheads), so a tag that
# never closes fails in linear time instead of backtracking through every way to split it. After
# a name, an "=" always starts a value (HTML's "after attribute name" state).
def _attributes(separator: str = "") -> str:
    """The attributes of a tag; ``separator`` names a group that captures the last separator."""
    separators = rf"[{_SPACE}/]+"
    if separator:
        separators = f"(?P<{separator}>{separators})"
    return (
        rf"""(?:{separators}(?![{_SPACE}/])"""
        rf"""|[^{_SPACE}/>][^{_SPACE}/>=]*(?![^{_SPACE}/>=])"""
        rf"""(?:[{_SPACE}]*=[{_SPACE}]*{_VALUE}|(?![{_SPACE}]*=)))*"""
    )


_ATTRS = _attributes()
_TAG_REST = re.compile(rf"{_ATTRS}(>)?")
_TAG_NAME = re.compile(rf"[^{_SPACE}/>]*")
# A tag after its "<" or "</": name, attributes, and the ">" unless the text ends first. The last
# separator is captured: a tag is self-closing only when its ">" follows a separator's "/"
# ("<path/>", '<use href="#i" />'), not a "/" that ends an unquoted value ("<svg viewBox=0/>"
# opens an svg).
_TAG = re.compile(rf"(?P<name>[^{_SPACE}/>]*){_attributes('separator')}(?P<close>>)?")
_ATTRIBUTE = re.compile(
    rf"""([^{_SPACE}/>][^{_SPACE}/>=]*)"""
    rf"""(?:[{_SPACE}]*=[{_SPACE}]*("[^"]*"|'[^']*'|[^{_SPACE}>"'][^{_SPACE}>]*)?)?"""
)
_COMMENT = r"<!--(?:>|->|(?s:.*?)--!?>)"
_ANY_MARKUP = re.compile(r"<[A-Za-z!?/]")

RAWTEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "noscript"})
RCDATA = frozenset({"title", "textarea"})
_SVG_HTML_POINTS = frozenset({"foreignobject", "desc", "title"})
_MATH_TEXT_POINTS = frozenset({"mi", "mo", "mn", "ms", "mtext"})
_MATH_HTML_POINTS = _MATH_TEXT_POINTS | {"annotation-xml"}
# Start tags that make a browser leave <svg>/<math> content (HTML standard, "rules for parsing
# tokens in foreign content"); <font> only with color, face or size.
_FOREIGN_BREAKOUT = frozenset(
    "b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    "li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var"
    "".split()
)
# End tags of elements that only exist inside <svg>/<math>: they never leave foreign content.
_FOREIGN_ONLY_END = frozenset(
    "animate animatemotion animatetransform circle clippath defs ellipse feblend fecolormatrix "
    "fecomposite fegaussianblur feimage femerge femergenode feoffset filter g image line "
    "lineargradient marker mask metadata mpath path pattern polygon polyline radialgradient rect "
    "set stop switch symbol text textpath tspan use view style script title desc foreignobject "
    "fedropshadow feflood fespotlight fepointlight fedistantlight fediffuselighting "
    "fespecularlighting fedisplacementmap feturbulence fetile femorphology feconvolvematrix "
    "fecomponenttransfer fefunca fefuncb fefuncg fefuncr "
    "altglyph altglyphdef altglyphitem animatecolor color-profile cursor discard font-face "
    "font-face-format font-face-name font-face-src font-face-uri glyph glyphref hatch hatchpath "
    "hkern mesh meshgradient meshpatch meshrow missing-glyph solidcolor tref unknown vkern "
    "math mrow msup msub msubsup mfrac msqrt mroot mfenced mtable mtr mtd mspace mstyle "
    "mpadded mphantom menclose munder mover munderover mmultiscripts semantics annotation "
    "maction maligngroup malignmark merror mglyph mlabeledtr mlongdiv mprescripts mscarries "
    "mscarry msgroup msline msrow mstack none".split()
)

_HTML_INTERESTING = (
    "script|style|xmp|iframe|noembed|noframes|noscript|title|textarea|plaintext|"
    "template|svg|math|head|meta|body|html|frameset"
)
_OPEN_ANY = rf"[A-Za-z][^{_SPACE}/>]*{_ATTRS}>"


def _lower_case_trie(names: Iterable[str], *, capitals: bool = True) -> str:
    """An alternation of lower-case names as a trie of literals, each name followed by a tag-name
    end; with ``capitals``, also ``[A-Z]`` beside every branch point.

    Literal branches are what the regex engine rejects fastest (one comparison each, no
    backtracking), which matters because these run at every "<" of the page. A capital where a
    name could continue matches too: the caller then decides that tag case-blind (or simply stops
    there), so ``<SCRIPT>`` and ``<sCrIpT>`` are caught without case-blind matching everywhere.
    """
    return _trie(names, capitals=capitals, case_blind=False)


def _case_blind_trie(names: Iterable[str]) -> str:
    """The same trie with ``[xX]`` classes for letters: the regex engine rejects those at once
    too, where case-blind literals would be tried one by one."""
    return _trie(names, capitals=False, case_blind=True)


def _trie(names: Iterable[str], *, capitals: bool, case_blind: bool) -> str:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name[0], []).append(name[1:])
    parts = []
    for first, rests in sorted(groups.items()):
        longer = [rest for rest in rests if rest]
        branches = [_NAME_END] if "" in rests else []
        if longer:
            branches.append(_trie(longer, capitals=capitals, case_blind=case_blind))
        either = case_blind and first.isalpha()
        letter = f"[{first}{first.upper()}]" if either else re.escape(first)
        parts.append(f"{letter}(?:{'|'.join(branches)})")
    if capitals:
        parts.append("[A-Z]")
    return "|".join(parts)


# The tags that matter at the top level (outside <svg>/<math>/<template>). Among end tags only
# </body>, </head> and </html> matter there: the others close nothing tracked.
_TOP_START_NAMES = _HTML_INTERESTING.split("|")
_TOP_END_NAMES = ["body", "head", "html"]
_TOP_START_SET = frozenset(_TOP_START_NAMES)
_TOP_END_SET = frozenset(_TOP_END_NAMES)


# What each context may skip without looking: text, comments, and tags that change nothing. They
# stop at any tag with a capital in its name, which the Python side then follows exactly: cheaper
# than matching every tag name case-blind.
_SKIP_HTML = re.compile(
    rf"""(?:[^<]+|<(?![!?/A-Za-z])|{_COMMENT}
        |<(?!{_lower_case_trie(_TOP_START_NAMES)}){_OPEN_ANY}
        |</(?!{_lower_case_trie(_TOP_END_NAMES)}){_OPEN_ANY})*""",
    re.VERBOSE,
)
# Inside <template> or an HTML integration point: every end tag may close the frame.
_SKIP_NESTED = re.compile(
    rf"""(?:[^<]+|<(?![!?/A-Za-z])|{_COMMENT}
        |<(?!{_lower_case_trie([*_TOP_START_NAMES, "mglyph", "malignmark"])}){_OPEN_ANY})*""",
    re.VERBOSE,
)
# Inside an svg/MathML integration point every tag counts: HTML elements opened there decide
# whether the point's end tag is obeyed.
_SKIP_POINT = re.compile(rf"(?:[^<]+|<(?![!?/A-Za-z])|{_COMMENT})*")
_VOID_ELEMENTS = frozenset(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    "source track wbr".split()
)
_P_CLOSERS = (
    "address article aside blockquote center details dialog dir div dl fieldset figcaption "
    "figure footer header hgroup main menu nav ol p search section summary ul pre listing hr "
    "xmp".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_TABLE_PARTS = frozenset("table caption colgroup col tbody thead tfoot tr td th".split())
_RUBY = frozenset("ruby rb rp rt rtc".split())
# HTML start tags whose "in body" rules close (or rearrange) already open elements -> the open
# elements that make them do so. Inside an integration point, such a start tag with one of those
# open is not followed exactly.
_IMPLICIT_CLOSES: dict[str, frozenset[str]] = {
    **{name: frozenset({"p"}) for name in _P_CLOSERS},
    **{name: _HEADINGS | {"p"} for name in _HEADINGS},
    "li": frozenset({"li", "p"}),
    "dd": frozenset({"dd", "dt", "p"}),
    "dt": frozenset({"dd", "dt", "p"}),
    "a": frozenset({"a"}),
    "button": frozenset({"button"}),
    "nobr": frozenset({"nobr"}),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option", "optgroup"}),
    "select": frozenset({"select"}),
    **{name: _RUBY for name in _RUBY - {"ruby"}},
    **{name: _TABLE_PARTS | {"p"} for name in _TABLE_PARTS},
}
# Start tags the "in body" rules never push (merged into the existing element, or ignored).
_NOT_PUSHED_IN_BODY = frozenset({"html", "body", "head", "frameset"})
# Start tags that open something the scan follows: foreign content or template contents.
_OPENS_A_FRAME = frozenset({"svg", "math", "template"})
_FOREIGN_STOP = (
    _FOREIGN_BREAKOUT | _SVG_HTML_POINTS | _MATH_HTML_POINTS | {"svg", "math", "font", "a"}
)
# Inside svg/MathML: text, comments, self-closing elements and elements holding only text
# ("<text>Label</text>"): a browser's stack of open elements is the same after them. Every other
# tag is followed: the end tags decide what is still open.
_NOT_FOREIGN_STOP = rf"(?!{_lower_case_trie(_FOREIGN_STOP)})"
_SKIP_FOREIGN = re.compile(
    rf"""(?:[^<]+|<(?![!?/A-Za-z])|{_COMMENT}
        |<{_NOT_FOREIGN_STOP}[A-Za-z][^{_SPACE}/>]*{_ATTRS}(?<=/)>
        |<{_NOT_FOREIGN_STOP}(?P<element>[A-Za-z][^{_SPACE}/>]*){_ATTRS}>[^<]*
            </(?P=element)[{_SPACE}]*>)*""",
    re.VERBOSE,
)


# Outside <svg>/<math>/<template>, the scan jumps from one of these straight to the next; the
# stretch in between holds only text and ordinary tags, and _outside_tags() proves the jump lands
# outside any tag (else that stretch is tokenized tag by tag with _SKIP_HTML). A comment is
# matched whole when it closes: a page full of comments then costs one regex step per comment
# (the scan still proves each one starts outside any tag).
def _risky(trie: Callable[[Iterable[str]], str]) -> re.Pattern[str]:
    return re.compile(
        r"<(?:!(?:--(?P<comment_end>>|->|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)?"
        rf"|[dD][oO][cC][tT][yY][pP][eE])|/(?:{trie(_TOP_END_NAMES)})|{trie(_TOP_START_NAMES)})"
    )


_RISKY = _risky(_lower_case_trie)
# The same search, case-blind: slower per "<", but cheaper on pages whose tags are all in capitals
# (hand-written legacy HTML) than checking every capital one by one. It also decides the single
# capitals that _RISKY only flags.
_RISKY_CASE_BLIND = _risky(_case_blind_trie)
_CAPITALS_BEFORE_CASE_BLIND = 16
# Going on with a search that stopped this far behind costs more than starting a new one.
_RESTART_DISTANCE = 1024


class _RiskySearch:
    """The tags that matter, in order, from one regex search that goes on where it stopped."""

    __slots__ = ("_capitals", "_matches", "_pattern", "_searched_to", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._pattern = _RISKY
        self._matches: Iterator[re.Match[str]] | None = None
        self._searched_to = 0
        self._capitals = 0

    def next_from(self, pos: int) -> re.Match[str] | None:
        """The first risky match at or after ``pos`` (None if there is none)."""
        text = self._text
        if self._matches is None or pos - self._searched_to > _RESTART_DISTANCE:
            self._matches = self._pattern.finditer(text, pos)
        for found in self._matches:
            lt, end = found.span()
            if lt < pos:
                if end > pos:  # began inside something the scan stepped over, and runs past it
                    self._matches = None
                    return self.next_from(pos)
                continue  # inside something the scan has stepped over
            capital = "A" <= text[end - 1] <= "Z" and text[lt + 1] != "!"
            if capital and self._pattern is _RISKY and not _RISKY_CASE_BLIND.match(text, lt):
                # A capital where a risky name could go on, and it is not one: decided
                # case-blind, here only, unless the page is full of them.
                self._capitals += 1
                if self._capitals == _CAPITALS_BEFORE_CASE_BLIND:
                    self._pattern, self._matches = _RISKY_CASE_BLIND, None
                    return self.next_from(pos)
                continue
            self._searched_to = end
            return found
        self._searched_to = len(text)
        return None

    def restart(self) -> None:
        self._matches = None


_SPACE_CHARS = frozenset("\t\n\f\r ")


class _NearestQuotes:
    """Whether the nearest quote before a position could open an attribute value. Positions only
    grow as the scan goes on, so each stretch of the page is searched for quotes once, however
    far back the nearest quote is."""

    __slots__ = ("_double", "_searched_to", "_single", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._searched_to = 0
        self._double = -1
        self._single = -1

    def could_open_value(self, start: int, x: int) -> bool:
        """Could the nearest quote before ``x`` (and after ``start``) open an attribute value,
        i.e. follow an "=" and optional spaces?"""
        text = self._text
        if x >= self._searched_to:
            double = text.rfind('"', self._searched_to, x)
            single = text.rfind("'", self._searched_to, x)
            if double >= 0:
                self._double = double
            if single >= 0:
                self._single = single
            self._searched_to = x
            double, single = self._double, self._single
        else:
            double, single = text.rfind('"', 0, x), text.rfind("'", 0, x)
        for at in (double, single):
            if at > start:
                before = at - 1
                while before >= start and text[before] in _SPACE_CHARS:
                    before -= 1
                if before >= start and text[before] == "=":
                    return True
        return False


def _outside_tags(text: str, start: int, x: int, quotes: _NearestQuotes) -> bool:
    """Whether ``x`` is provably outside any tag, when ``start`` is in the data state and the
    stretch between holds no comment or raw-text element.

    A tag spanning ``x`` starts at a "<" after ``start``; the last ">" after the last such "<"
    would end it unless that ">" sits in a quoted attribute value, whose opening quote is then
    the nearest quote before it and follows an "=". No "<", or a ">" after it that no such quote
    can enclose, proves it.
    """
    last_lt = text.rfind("<", start, x)
    if last_lt < 0:
        return True
    last_gt = text.rfind(">", last_lt, x)
    return last_gt >= 0 and not quotes.could_open_value(start, last_gt)


_SCRIPT_STATES = {
    "data": re.compile(r"<!--|</script(?=[\t\n\f\r />])", re.IGNORECASE),
    "escaped": re.compile(r"-->|</script(?=[\t\n\f\r />])|<script(?=[\t\n\f\r />])", re.IGNORECASE),
    "double": re.compile(r"-->|</script(?=[\t\n\f\r />])", re.IGNORECASE),
}
_RAW_CLOSERS = {
    name: re.compile(rf"</{name}(?=[\t\n\f\r />])", re.IGNORECASE) for name in RAWTEXT | RCDATA
}
_COMMENT_END = re.compile(r"--!?>")


class Tag(NamedTuple):
    """A real tag as a browser's tokenizer sees it (not text inside a comment, script, ...)."""

    name: str  # lower case
    start: int
    end: int  # index after the closing '>'
    is_end_tag: bool
    raw: str  # the whole tag text
    #: Where the tag is: "html"; "foreign" (inside <svg>/<math>); "point" (HTML inside an svg
    #: <foreignObject>/<desc>/<title> or a MathML text point: HTML, but still within the svg);
    #: or "template" (template contents).
    context: str
    self_closing: bool = False

    def attributes(self) -> dict[str, str]:
        return parse_attributes(self.raw)


@dataclass
class ScanResult:
    #: The tags that matter for placement, in document order (not every tag of the page).
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
    #: How many stretches could not be jumped over and were tokenized tag by tag.
    tag_by_tag: int = 0
    #: Inline svg/math markup whose effect depends on elements the scan does not track.
    uncertain: bool = False


def _always(match: re.Match[str] | None) -> re.Match[str]:
    """For patterns that can match the empty string, so they match at every position."""
    assert match is not None
    return match


def has_markup(text: str) -> bool:
    return _ANY_MARKUP.search(text) is not None


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
    """Just enough of the tree builder to know the namespace the tokenizer is in.

    Where the real answer depends on elements it does not track (which HTML elements are open
    around an ``<svg>``, say), it sets ``uncertain`` instead of guessing; such pages are left alone.
    """

    def __init__(self) -> None:
        # (kind, tag name). kind: "foreign" (svg/math element), "html" (an HTML integration point:
        # svg <foreignObject>/<desc>/<title>, MathML text points), "element" (an HTML element open
        # inside such a point), "template".
        self.stack: list[tuple[str, str]] = []
        self.uncertain = False

    @property
    def context(self) -> str:
        if not self.stack:  # the usual case, kept cheap: this runs for every tag
            return "html"
        if any(kind == "template" for kind, _ in self.stack):
            return "template"
        return "foreign" if self.stack[-1][0] == "foreign" else "point"

    @property
    def in_html(self) -> bool:
        return not self.stack or self.stack[-1][0] != "foreign"

    @property
    def at_integration_point(self) -> bool:
        return bool(self.stack) and self.stack[-1][0] == "html"

    @property
    def in_point(self) -> bool:
        """At an HTML integration point or inside an HTML element open in one."""
        return bool(self.stack) and self.stack[-1][0] in ("html", "element")

    def skipper(self) -> re.Pattern[str]:
        if not self.stack:
            return _SKIP_HTML
        kind = self.stack[-1][0]
        if kind == "foreign":
            return _SKIP_FOREIGN
        return _SKIP_POINT if kind in ("html", "element") else _SKIP_NESTED

    def start(self, name: str, self_closing: bool, raw: str) -> None:
        if self.in_html:
            in_text_point = self.at_integration_point and self.stack[-1][1] in _MATH_TEXT_POINTS
            if in_text_point and name in ("mglyph", "malignmark"):  # these stay MathML
                self.uncertain = True
                return
            if name in ("svg", "math") and not self_closing:
                self.stack.append(("foreign", name))
            elif name == "template":
                self.stack.append(("template", name))
            elif self.in_point:
                self._open_html_element_in_point(name)
            return
        if name in _FOREIGN_BREAKOUT or (
            name == "font" and {"color", "face", "size"} & parse_attributes(raw).keys()
        ):
            self._leave_foreign()
            return
        if self_closing:
            return
        root = next(tag for kind, tag in reversed(self.stack) if tag in ("svg", "math"))
        if name in ("svg", "math"):
            if name != root:  # <math> inside <svg> is an SVG element, and the other way round
                self.uncertain = True
            self.stack.append(("foreign", name))
        elif (root == "svg" and name in _SVG_HTML_POINTS) or (
            root == "math" and name in _MATH_TEXT_POINTS
        ):
            self.stack.append(("html", name))
        elif root == "math" and name == "annotation-xml":
            encoding = parse_attributes(raw).get("encoding", "").lower()
            html = encoding in ("text/html", "application/xhtml+xml")
            self.stack.append(("html" if html else "foreign", name))
        else:
            # Every open svg/MathML element is followed, so that an end tag pops exactly what
            # a browser pops (the nearest open element of that name).
            self.stack.append(("foreign", name))

    def _open_html_element_in_point(self, name: str) -> None:
        """An HTML start tag inside an svg/MathML integration point: the browser opens an HTML
        element there, and while one is open the point's own end tag is ignored."""
        open_here = self._open_in_point()
        if name == "form" or _IMPLICIT_CLOSES.get(name, frozenset()) & open_here:
            # <p><div>, <li><li>, <a><a>, table parts...: the "in body" rules close or rearrange
            # open elements here (and <form> depends on a form open anywhere): not followed.
            self.uncertain = True
            return
        raw_text = name in RAWTEXT or name in RCDATA or name == "script"
        if raw_text or name in _VOID_ELEMENTS or name in _NOT_PUSHED_IN_BODY:
            return  # nothing stays open (raw-text content and end tag are stepped over by scan)
        self.stack.append(("element", name))

    def _open_in_point(self) -> set[str]:
        """Names of the HTML elements open inside the current integration point."""
        names = set()
        for kind, tag in reversed(self.stack):
            if kind != "element":
                break
            names.add(tag)
        return names

    def _leave_foreign(self) -> None:
        while self.stack and self.stack[-1][0] == "foreign":
            self.stack.pop()

    def end(self, name: str) -> None:
        if self.stack and self.stack[-1][0] == "element":
            # HTML rules: the end tag closes the current element, or is ignored when it names
            # nothing open inside the point (the point is a "special" element and a scope
            # boundary: </foreignObject>, </svg>, </body> do not reach past it). Closing an
            # element below the current one reshuffles (adoption agency): not followed.
            if name == self.stack[-1][1]:
                self.stack.pop()
            elif name in self._open_in_point():
                self.uncertain = True
            elif name == "template":
                self._close_template()  # not scope-bound: closes a template around the svg
            return
        if not self.stack or self.stack[-1][0] == "template":
            for depth in range(len(self.stack) - 1, -1, -1):
                if self.stack[depth][1] == name:
                    del self.stack[depth:]
                    return
                if self.stack[depth][0] == "template" and name != "template":
                    return  # end tags do not reach outside a template
            return
        # The current node is an svg/MathML element or an integration point: the rules for
        # foreign content pop to the nearest open svg/MathML element of that name.
        at_point = self.at_integration_point
        if not at_point and name in ("p", "br"):  # these leave foreign content (HTML standard)
            self._leave_foreign()
            return
        for depth in range(len(self.stack) - 1, -1, -1):
            kind, tag = self.stack[depth]
            if kind not in ("foreign", "html"):
                break
            if tag == name:
                del self.stack[depth:]
                return
        # None: the HTML rules take the end tag.
        if name == "template":
            self._close_template()
        elif at_point or name in ("body", "html", "head"):
            # From an integration point (a "special" element and a scope boundary) the HTML
            # rules ignore it; </body>, </html> and </head> pop nothing either way.
            pass
        elif name not in _FOREIGN_ONLY_END and ":" not in name:
            # May close an HTML element around the svg: depends on what we do not track. (A
            # name such as </circle>, or a prefixed one such as </sodipodi:namedview> from an
            # editor's export, names no HTML element.)
            self.uncertain = True

    def _close_template(self) -> None:
        """``</template>``: closes the nearest open template and all inside it, if there is one."""
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == "template":
                del self.stack[depth:]
                return


def scan(text: str, *, jump: bool = True) -> ScanResult:
    """Tokenize ``text`` as a browser would and return the tags that matter for placement.

    ``jump=False`` tokenizes every tag instead of jumping between the ones that matter: slower,
    and the same result (the tests hold the two against each other).
    """
    result = ScanResult(content_start=1 if text.startswith("\ufeff") else 0)
    tags = result.tags
    nesting = _Nesting()
    stack = nesting.stack
    quotes = _NearestQuotes(text)
    risky = _RiskySearch(text)
    skip = _SKIP_HTML  # used while something is open (template, svg, math)
    length = len(text)
    pos = 0
    while True:
        if stack:
            lt = _always(skip.match(text, pos)).end()
        else:
            # Jump to the next tag that matters if the stretch before it is provably plain,
            # else tokenize that stretch tag by tag.
            found = risky.next_from(pos) if jump else None
            lt = found.start() if found is not None else length
            if not jump or not _outside_tags(text, pos, lt, quotes):
                lt = _always(_SKIP_HTML.match(text, pos)).end()
                result.tag_by_tag += 1
                risky.restart()
            elif found is not None and found.group("comment_end") is not None:
                pos = found.end()  # a whole comment
                continue
        if lt + 1 >= length:
            break
        nxt = text[lt + 1]
        if nxt == "!":
            if text.startswith("<!--", lt):
                if text.startswith(">", lt + 4) or text.startswith("->", lt + 4):
                    pos = lt + 5 + (text[lt + 4] == "-")  # "<!-->" and "<!--->" are complete
                    continue
                match = _COMMENT_END.search(text, lt + 4)
                if match is None:
                    result.eof_state = "comment"
                    break
                pos = match.end()
                continue
            if nesting.at_integration_point and text.startswith("<![CDATA[", lt):
                nesting.uncertain = True  # CDATA if the current node is <foreignObject> itself
            if not nesting.in_html and text.startswith("<![CDATA[", lt):
                close = text.find("]]>", lt + 9)
                if close < 0:
                    result.eof_state = "cdata"
                    break
                pos = close + 3
                continue
        if nxt in "!?":  # a DOCTYPE, or a bogus comment ("<!x", "<?php"): ends at the first ">"
            close = text.find(">", lt + 2)
            if close < 0:
                result.eof_state = "comment"
                break
            if nxt == "!" and not tags and text[lt + 2 : lt + 9].lower() == "doctype":
                result.doctype_end = close + 1
            pos = close + 1
            continue
        is_end = nxt == "/"
        name_start = lt + 2 if is_end else lt + 1
        first = text[name_start : name_start + 1]
        if not (first.isascii() and first.isalpha()):
            # Only "</" + non-letter gets here: "</>" is dropped, the rest is a bogus comment.
            close = name_start if first == ">" else text.find(">", name_start)
            if close < 0:
                result.eof_state = "comment"
                break
            pos = close + 1
            continue
        parsed = _always(_TAG.match(text, name_start))
        if parsed.group("close") is None:
            result.eof_state = "tag"
            break
        end = parsed.end()
        name = parsed.group("name").lower()
        if not stack and name not in (_TOP_END_SET if is_end else _TOP_START_SET):
            pos = end  # e.g. <DIV>, where a capital stopped the skip: changes nothing
            continue
        raw = text[lt:end]
        self_closing = not is_end and _self_closing(parsed)
        context = nesting.context if stack else "html"
        tag = Tag(name, lt, end, is_end, raw, context, self_closing)
        tags.append(tag)
        pos = end
        if is_end:
            if stack:
                nesting.end(name)
                skip = nesting.skipper()
            continue
        if stack:
            html_ns = nesting.in_html
            nesting.start(name, self_closing, raw)
            skip = nesting.skipper()
            if not html_ns:
                continue
        elif name in _OPENS_A_FRAME:
            closed_at = _plain_svg_end(text, end) if name == "svg" and not self_closing else None
            if closed_at is not None:
                # An icon-like <svg>: nothing in it leaves foreign content, its </svg> ends it.
                close_start, pos = closed_at
                tags.append(Tag("svg", close_start, pos, True, text[close_start:pos], "foreign"))
                continue
            nesting.start(name, self_closing, raw)
            skip = nesting.skipper()
            continue
        if name == "script":
            content_end, close_end = _skip_script(text, end)
        elif name in RAWTEXT or name in RCDATA:
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
        tags.append(Tag(name, content_end, close_end, True, text[content_end:close_end], context))
        pos = close_end
    result.eof_context = nesting.context
    result.uncertain = nesting.uncertain
    return result


def _self_closing(parsed: re.Match[str]) -> bool:
    """Whether a start tag matched by ``_TAG`` (and closed by its ">") is self-closing."""
    separator_end = parsed.end("separator")
    return separator_end == parsed.end() - 1 and parsed.string[separator_end - 1] == "/"


def _plain_svg_end(text: str, content_start: int) -> tuple[int, int] | None:
    """Start and end of the ``</svg>`` that closes an ``<svg>`` whose content is only text,
    comments and svg elements that stay in foreign content (the common icon), else None.

    The same as following the svg tag by tag, in one regex step: :func:`scan` then records the
    same two tags, and the nesting is back where it was.
    """
    stop = _always(_SKIP_FOREIGN.match(text, content_start)).end()
    if text[stop : stop + 5].lower() != "</svg":
        return None
    parsed = _always(_TAG.match(text, stop + 2))
    if parsed.group("close") is None or parsed.group("name").lower() != "svg":
        return None
    return stop, parsed.end()


def close_tag_end(text: str, at: int, name: str) -> int | None:
    """End of the end tag ``</name ...>`` that starts at ``at``, or None if it never closes."""
    rest = _always(_TAG_REST.match(text, at + 2 + len(name)))
    return rest.end() if rest.group(1) is not None else None


def _skip_raw(text: str, start: int, name: str) -> tuple[int, int | None]:
    match = _RAW_CLOSERS[name].search(text, start)
    if match is None:
        return len(text), None
    return match.start(), close_tag_end(text, match.start(), name)


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
            return match.start(), close_tag_end(text, match.start(), "script")


# Start tags a browser still puts into <head> (or ignores) before the body starts.
_HEAD_TAGS = frozenset(
    "html head base basefont bgsound link meta noframes script style template title noscript"
    "".split()
)
_LEADING_TOKEN = re.compile(
    rf"""[\t\n\f\r ]+|{_COMMENT}|<![^>]*>|<\?[^>]*>|</(?:>|[^A-Za-z>][^>]*>)"""
    rf"""|<(/?)([A-Za-z][^\t\n\f\r />]*){_ATTRS}>"""
)


def _template_spans(scanned: ScanResult) -> dict[int, int]:
    """Start of each real <template> start tag -> end of its matching </template> (nesting)."""
    spans: dict[int, int] = {}
    open_starts: list[int] = []
    for tag in scanned.tags:
        if tag.name != "template" or tag.context == "foreign":
            continue
        if not tag.is_end_tag:
            open_starts.append(tag.start)
        elif open_starts:
            spans[open_starts.pop()] = tag.end
    return spans


def body_started_before(text: str, scanned: ScanResult, at: int) -> bool:
    """Whether the parser has started the body before ``at`` (so a script there runs in it)."""
    for tag in scanned.tags:
        if tag.start >= at:
            break
        if tag.name == "body" and not tag.is_end_tag and tag.context == "html":
            return True  # the usual case: a real <body> before the insertion point
    # No <body> tag: walk the leading tokens; text or any non-head tag starts the body.
    skip_to = {tag.start: end for tag, _start, end in scanned.raw_elements}
    template_ends = _template_spans(scanned)
    pos = scanned.content_start
    while pos < at:
        token = _LEADING_TOKEN.match(text, pos)
        if token is None:
            return True  # text (or a lone "<") starts the body
        pos = token.end()
        name = (token.group(2) or "").lower()
        if not name:
            continue  # whitespace, comment, DOCTYPE, bogus comment
        if token.group(1):  # end tag: ignored before the body, except </br>
            if name == "br":
                return True
            continue
        if name not in _HEAD_TAGS:
            return True
        if token.start() in skip_to:  # script, style, title, ...: step over their content
            pos = close_tag_end(text, skip_to[token.start()], name) or len(text)
        elif name == "template":  # its content is not the page's body
            pos = template_ends.get(token.start(), len(text))
    return False


#: Elements we insert (marked with :data:`MARKER_ATTRIBUTE`): the scripts, and the Facebook
#: Pixel's ``<noscript>`` fallback (raw text for a browser with scripting, like a script).
OUR_ELEMENTS = frozenset({"script", "noscript"})


def find_tracker_tags(text: str, scanned: ScanResult | None = None) -> list[tuple[Tag, int]]:
    """Our own tags in a page (``<script>``, and the Pixel's ``<noscript>``, carrying
    ``data-aae-tracking``): each start tag with the index after its end tag."""
    scanned = scanned or scan(text)
    found = []
    for tag, _content_start, content_end in scanned.raw_elements:
        # Cheap substring test first; only then parse the attributes.
        is_ours = tag.name in OUR_ELEMENTS and MARKER_ATTRIBUTE in tag.raw.lower()
        if is_ours and MARKER_ATTRIBUTE in tag.attributes():
            close = close_tag_end(text, content_end, tag.name)
            found.append((tag, close if close is not None else content_end))
    return found
