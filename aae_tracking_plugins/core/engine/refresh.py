"""Redirect pages: a ``<meta http-equiv="refresh">`` with a URL sends the visitor elsewhere.

A redirect is not a visit, so the engine leaves such pages alone and ``aae-tracking check``
reports them as not pages. Which ``<meta>`` elements count comes from the HTML5 parse of the
page (:mod:`.verify`): a browser honours a refresh declaration whose ``<meta>`` is inserted into
the document, in ``<head>`` or anywhere else, even inside inline ``<svg>``, which a ``<meta>``
breaks out of (HTML standard, 4.2.5.3 "Pragma directives", "Refresh state"). Not one in a
comment, in ``<template>`` content (an inert document) or in ``<noscript>`` (text when scripting
is on; without scripting no tracker runs anyway): the parse has no such elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["refresh_target", "refresh_url"]

_ASCII_SPACE = "\t\n\f\r "
_ASCII_DIGITS = "0123456789"


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def refresh_url(content: str) -> str | None:
    """The URL part of a declarative refresh's ``content`` ("" when it has none), or ``None``
    when browsers ignore the value.

    Follows the HTML standard's "shared declarative refresh steps" (4.2.5.3): optional spaces,
    a time (digits, or a "." starting the ignored fraction), then after ";", "," or spaces an
    optional ``url=`` (any case, spaces around "=") and the URL, cut at a closing quote when it
    starts with one. ``"5"`` and ``"0;"`` reload the page itself (``""``); ``"0; url=/new/"``,
    ``"5;URL='/new/'"`` and ``"0,/new/"`` send the visitor to ``/new/``; ``"soon"`` is ignored.

    Args:
        content: the ``content`` attribute's value as parsed (character references decoded).

    Returns:
        The URL as written (not resolved), ``""`` for a reload, ``None`` for an invalid value.
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


def refresh_target(metas: Iterable[Mapping[str, str | None]]) -> str | None:
    """The URL the page's refresh declarations send the visitor to, or ``None`` when the page
    is no redirect.

    Args:
        metas: the attributes (names lower-case, values decoded, as an HTML5 parse gives them)
            of the ``<meta>`` elements in the document tree that have ``http-equiv``, in
            document order (:func:`.verify.page_facts` collects them).

    Returns:
        The first URL of a refresh declaration (``http-equiv`` "refresh" in any ASCII case) that
        has one, or ``None``. A refresh without a URL (or with an empty one) reloads the page
        itself: a normal page. The standard follows the first valid declaration, Chromium the
        one due soonest (tests/engine/test_redirects.py): a page is a redirect when any valid
        declaration has a URL.
    """
    for attributes in metas:
        equiv = attributes.get("http-equiv") or ""
        if not equiv.isascii() or equiv.lower() != "refresh":
            continue
        url = (refresh_url(attributes.get("content") or "") or "").strip(_ASCII_SPACE)
        if url:
            return url
    return None
