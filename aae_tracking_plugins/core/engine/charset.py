"""Find a page's character encoding the way a browser does, for pages we only have as bytes.

Order (HTML standard, 13.2.3.1 "Determining the character encoding", without the network layer):
byte order mark, then a ``<meta charset>`` / ``<meta http-equiv=content-type>`` that the prescan
of the first 1024 bytes finds (:func:`prescan`, which also gives the engine the declaration's
offsets so that no insertion pushes it out of those bytes), then UTF-8 when the bytes decode as
UTF-8, else windows-1252.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

PRESCAN_BYTES = 1024

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# WHATWG Encoding labels whose Python codec has another name or other behaviour.
_LABELS = {
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "l1": "cp1252",
    "windows-1252": "cp1252",
    "x-cp1252": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "x-sjis": "cp932",
    "euc-jp": "euc_jp",
    "gb2312": "gbk",
    "gb_2312": "gbk",
    "x-gbk": "gbk",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "tis-620": "cp874",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    # A <meta> can never declare UTF-16: the page would not be ASCII-readable to find it.
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
}


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte order mark at the start of ``data`` names, if it has one."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def normalise_label(label: str) -> str | None:
    """The Python codec for an encoding label, or ``None`` when Python does not know it."""
    label = label.strip().lower()
    name = _LABELS.get(label, label)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


class Declaration(NamedTuple):
    """A ``<meta>`` that declares the page's encoding, where the prescan finds it."""

    encoding: str  # the Python codec name
    start: int  # where its "<meta" starts
    end: int  # after its ">"


_WS = "\t\n\f\r "
# The prescan's steps (HTML standard, 13.2.3.2 "Prescan a byte stream to determine its
# encoding"): a comment, a <meta> start tag, any other start or end tag, or markup that is
# skipped up to its first ">" ("<!", "</", "<?").
_STEP = re.compile(
    r"<(?:(?P<comment>!--)|(?P<meta>[mM][eE][tT][aA])(?=[\t\n\f\r /])|/?[A-Za-z]|[!/?])"
)
_TAG_NAME_REST = re.compile(r"[^\t\n\f\r >]*")
# "Get an attribute": spaces and slashes, then ">" (no attribute) or a name (which may start
# with "="), then an optional value after "=": quoted, empty before ">", or unquoted. A quote
# that does not close within the text read means the prescan ran out of input.
_GET_ATTRIBUTE = re.compile(
    r"""[\t\n\f\r /]*(?:(?P<gt>>)|(?P<name>[^\t\n\f\r />][^\t\n\f\r />=]*)"""
    r"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?=>)"""
    r"""|(?P<uq>[^\t\n\f\r >"'][^\t\n\f\r >]*)|(?P<open>["']))|(?![\t\n\f\r ]*=)))"""
)
_CHARSET_VALUE = re.compile(
    r"""charset[\t\n\f\r ]*=[\t\n\f\r ]*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<open>["'])"""
    r"""|(?P<uq>[^\t\n\f\r ;"'][^\t\n\f\r ;]*)|)""",
    re.IGNORECASE,
)


class _OutOfInputError(Exception):
    """The prescan reached the end of the text it reads: it finds no encoding."""


def _attributes(text: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    """The prescan's attributes of a tag from ``pos`` (after its name), lower-cased as the
    standard lower-cases them, and the index of the tag's ``>``.

    Raises:
        _OutOfInputError: the text ends inside the tag.
    """
    found: list[tuple[str, str]] = []
    while True:
        match = _GET_ATTRIBUTE.match(text, pos)
        if match is None or match.group("open") is not None:
            raise _OutOfInputError
        if match.group("gt") is not None:
            return found, match.start("gt")
        value = match.group("dq") or match.group("sq") or match.group("uq") or ""
        found.append((match.group("name").lower(), value.lower()))
        pos = match.end()


def charset_from_content(content: str) -> str | None:
    """The label in a ``content`` attribute's ``charset=...``, or ``None``.

    HTML standard, 2.4.x "algorithm for extracting a character encoding from a meta element":
    the first "charset" followed (after spaces) by "=" counts; its value is quoted (and must
    close) or runs up to a space or ";".
    """
    match = _CHARSET_VALUE.search(content)  # skips a "charset" that no "=" follows
    if match is None or match.group("open") is not None:
        return None
    return match.group("dq") or match.group("sq") or match.group("uq") or None


def _meta_encoding(attributes: list[tuple[str, str]]) -> str | None:
    """The encoding a ``<meta>`` declares by the prescan's rules for its attributes, if any."""
    seen: set[str] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    for name, value in attributes:
        if name in seen:
            continue
        seen.add(name)
        if name == "http-equiv":
            got_pragma = got_pragma or value == "content-type"
        elif name == "content" and charset is None:
            label = charset_from_content(value)
            if label is not None:
                charset, need_pragma = normalise_label(label), True
        elif name == "charset":
            charset, need_pragma = normalise_label(value), False
    if need_pragma is None or (need_pragma and not got_pragma):
        return None
    return charset  # a declared UTF-16 is read as UTF-8 (see _LABELS)


def prescan(text: str) -> Declaration | None:
    """The first ``<meta>`` in ``text`` that declares a known encoding, found the way a browser
    finds it (HTML standard, 13.2.3.2 "Prescan a byte stream to determine its encoding").

    Comments are skipped, other tags' attributes stepped over (a quoted ``>`` does not end
    them), ``<!``, ``</``, ``<?`` markup skipped to its ``>``; a ``<meta>`` counts with a
    ``charset`` attribute, or with ``http-equiv="content-type"`` and a ``content`` that names a
    charset. The prescan knows no script or raw text: a declaration inside a ``<script>`` counts,
    as in browsers.

    Args:
        text: the first :data:`PRESCAN_BYTES` bytes of a page decoded as latin-1 (one character
            per byte), or the first characters of a page's text.

    Returns:
        The declaration with its offsets in ``text``, or ``None``: no declaration of an encoding
        Python knows, or ``text`` ends inside the markup being read (the prescan then fails).
    """
    pos = 0
    try:
        while (step := _STEP.search(text, pos)) is not None:
            if step.group("comment") is not None:
                close = text.find("-->", step.start() + 2)
                if close < 0:
                    return None
                pos = close + 3
            elif step.group("meta") is not None:
                attributes, close = _attributes(text, step.end())
                encoding = _meta_encoding(attributes)
                if encoding is not None:
                    return Declaration(encoding, step.start(), close + 1)
                pos = close + 1
            elif text[step.end() - 1].isalpha():  # a start or end tag: skip its attributes
                name = _TAG_NAME_REST.match(text, step.end())
                assert name is not None  # the pattern matches the empty string
                pos = _attributes(text, name.end())[1] + 1
            else:
                close = text.find(">", step.start() + 1)
                if close < 0:
                    return None
                pos = close + 1
    except _OutOfInputError:
        return None
    return None


def declared_encoding(data: bytes) -> str | None:
    """The encoding named by a ``<meta>`` in the first 1024 bytes (see :func:`prescan`)."""
    found = prescan(data[:PRESCAN_BYTES].decode("latin-1"))
    return None if found is None else found.encoding


def detect(data: bytes) -> str:
    """The encoding a browser would decode ``data`` with (no HTTP header involved).

    Returns:
        A Python codec name: the byte order mark's, else the prescan's declaration's, else
        ``"utf-8"`` when the bytes decode as UTF-8, else ``"cp1252"`` (windows-1252).
    """
    found = bom_encoding(data) or declared_encoding(data)
    if found:
        return found
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"
