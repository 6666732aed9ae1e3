"""Find a page's character encoding the way a browser does, for pages we only have as bytes.

Order (HTML standard, "determining the character encoding", without the network layer):
byte order mark, then a ``<meta charset>`` / ``<meta http-equiv=content-type>`` in the first
1024 bytes, then UTF-8 when the bytes decode as UTF-8, else windows-1252.
"""

from __future__ import annotations

import codecs
import re

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
_CHARSET_IN_CONTENT = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


def bom_encoding(data: bytes) -> str | None:
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


def declared_encoding(data: bytes) -> str | None:
    """The encoding named by a <meta> in the first 1024 bytes (tokenized, so not in comments)."""
    from .inject import scan  # local: inject imports this module

    head = data[:PRESCAN_BYTES].decode("latin-1")
    for tag in scan(head).tags:
        if tag.name != "meta" or tag.is_end_tag:
            continue
        attributes = tag.attributes()
        label = attributes.get("charset")
        if label is None and attributes.get("http-equiv", "").lower() == "content-type":
            match = _CHARSET_IN_CONTENT.search(attributes.get("content", ""))
            label = match.group(1) if match else None
        if label:
            return normalise_label(label)
    return None


def detect(data: bytes) -> str:
    """The encoding a browser would decode ``data`` with (no HTTP header involved)."""
    found = bom_encoding(data) or declared_encoding(data)
    if found:
        return found
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"
