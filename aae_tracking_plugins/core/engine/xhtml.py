"""Track XML documents (XHTML): place the tags by plain search, accept them by lxml's XML parser.

A file a browser receives as ``application/xhtml+xml`` (``.xhtml``/``.xht`` on common servers) is
parsed by an XML parser, not by the HTML parser: one well-formedness error and the browser shows
an error instead of the page (XML 1.0, section 1.2, "fatal error"). So an XHTML page is checked
with the parser of its own language, lxml's XML parser (libxml2), and the tags are written as XML:
quoted attributes, ``defer="defer"``, script text in a CDATA section
(:func:`aae_tracking_plugins.core.tags.render_xml_snippet`).

The stub goes right after the ``<head>`` start tag (its first child), the tracker right before the
last ``</body>`` (its last child), found by plain search; the result is accepted only when the XML
parser reads it as well-formed with exactly our two scripts there, in the XHTML namespace, with
their text and attributes intact. Otherwise the page is left byte-for-byte as it was, with the
reason. The parser resolves no entity and opens no network or file (``resolve_entities=False``,
``no_network=True``, no DTD loading): a page cannot make it read anything.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from lxml import etree

from aae_tracking_plugins.core.audit import (
    DUPLICATE,
    GATED,
    LEFT_ALONE,
    NOT_PAGE,
    OUTDATED,
    TRACKED,
    UNTRACKED,
    PageReport,
    TrackerInfo,
    audit_page,
)
from aae_tracking_plugins.core.engine.gating import gating, with_gating
from aae_tracking_plugins.core.engine.inject import EMPTY_FILE, MARKER_ATTRIBUTE, Outcome, Snippet
from aae_tracking_plugins.core.tags import PIXEL_IMAGE_URL

__all__ = [
    "XHTML_NAMESPACE",
    "XML_PAGE_SUFFIXES",
    "XhtmlResult",
    "audit_xhtml",
    "inject_xhtml",
    "is_xml_page",
]

XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
#: File names that common servers send as ``application/xhtml+xml`` (Apache's and nginx's
#: ``mime.types``, Python's ``mimetypes``).
XML_PAGE_SUFFIXES = (".xhtml", ".xht")

_HTML = f"{{{XHTML_NAMESPACE}}}html"
_HEAD = f"{{{XHTML_NAMESPACE}}}head"
_BODY = f"{{{XHTML_NAMESPACE}}}body"
_SCRIPT = f"{{{XHTML_NAMESPACE}}}script"
_TEMPLATE = f"{{{XHTML_NAMESPACE}}}template"

# A start tag of <head> as XML writes it (attribute values are always quoted in XML).
_HEAD_START = re.compile(r"""<head(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")
_BODY_END = re.compile(r"</body\s*>")
# Our own tags, as any version wrote them into an XML document (idempotency, other ids).
_OUR_TAG = re.compile(
    r"<(script|noscript)\s[^>]*?" + MARKER_ATTRIBUTE + r"""\s*=\s*(["'])(?:stub|tracker|pixel)\2"""
    r"[^>]*?(?:/>|>.*?</\1\s*>)",
    re.DOTALL,
)
_XML_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.-]*)["']""")
#: Candidate spots tried for each tag before the page is left alone.
_MAX_CANDIDATES = 3


@dataclass(frozen=True)
class XhtmlResult(Outcome):
    """The outcome of :func:`inject_xhtml`.

    ``data``: the page with our tags (the input itself when ``skipped_reason`` is set or the
    page was already up to date); ``skipped_reason``: why the page was left alone, or ``None``.
    """

    data: bytes
    skipped_reason: str | None = None


def is_xml_page(path: str) -> bool:
    """Whether the file ``path`` is a page browsers parse as XML (by its suffix, any case)."""
    return path.lower().endswith(XML_PAGE_SUFFIXES)


@cache
def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse(data: bytes) -> etree._Element | str:
    """The document's root element, or why it is not a well-formed XHTML document."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return f"it is not well-formed XML ({exc}), so browsers show an error for it"
    if root.tag != _HTML:
        name = etree.QName(root).localname
        return f'its root element is <{name}>, not <html xmlns="{XHTML_NAMESPACE}">'
    return root


def _encoding(data: bytes) -> str:
    """The encoding of an XML document (XML 1.0, appendix F): byte order mark, else the
    declaration's ``encoding``, else UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if data.startswith(codecs.BOM_UTF16_LE):  # the mark stays in the text, as U+FEFF
        return "utf-16-le"
    if data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    declared = _XML_DECLARED_ENCODING.match(data)
    if declared is None:
        return "utf-8"
    try:
        return codecs.lookup(declared.group(1).decode("ascii")).name
    except LookupError:
        return "utf-8"  # the parse of the result decides


def _marked(root: etree._Element) -> list[etree._Element]:
    """Our elements in the parsed document, in document order."""
    return [
        element
        for element in root.iter()
        if isinstance(element.tag, str) and element.get(MARKER_ATTRIBUTE) is not None
    ]


@lru_cache(maxsize=64)
def _expected(snippet: Snippet) -> tuple[tuple[dict[str, str], str | None], ...]:
    """(attributes, text) of the snippet's stub and tracker as the XML parser reads them."""
    wrapped = f'<html xmlns="{XHTML_NAMESPACE}">{snippet.head}{snippet.body}</html>'
    root = etree.fromstring(wrapped.encode("utf-8"), _parser())
    return tuple((dict(element.attrib), element.text) for element in root)


def _verify(output: bytes, snippet: Snippet) -> str | None:
    """Why the candidate ``output`` does not run exactly our two scripts where they belong."""
    root = _parse(output)
    if isinstance(root, str):
        return f"with the scripts inserted, {root}"
    found = _marked(root)
    if [element.get(MARKER_ATTRIBUTE) for element in found] != ["stub", "tracker"]:
        return "the XML parser does not see the inserted scripts as a stub then a tracker"
    stub, tracker = found
    head, body = stub.getparent(), tracker.getparent()
    if head is None or head.tag != _HEAD or head.getparent() is not root or head[0] is not stub:
        return "the XML parser does not see the stub as the first child of <head>"
    if body is None or body.tag != _BODY or body.getparent() is not root or body[-1] is not tracker:
        return "the XML parser does not see the tracker as the last child of <body>"
    for element, (attributes, text) in zip(found, _expected(snippet), strict=True):
        if element.tag != _SCRIPT or len(element):
            return "the XML parser does not see the inserted scripts as XHTML <script> elements"
        if dict(element.attrib) != attributes or element.text != text:
            return "the XML parser does not see the inserted scripts intact"
    return None


def _candidates(text: str) -> tuple[list[int], list[int]] | str:
    """Where the stub (after a ``<head>`` start tag) and the tracker (before a ``</body>``, the
    last first) may go, or why there is no such spot."""
    heads = [match.end() for match in _HEAD_START.finditer(text) if not match.group(1)]
    bodies = [match.start() for match in _BODY_END.finditer(text)][::-1]
    if not heads:
        return "it has no <head>...</head> to hold the queue stub (an empty <head/> neither)"
    if not bodies:
        return "it has no </body> end tag to insert the tracker before"
    return heads[:_MAX_CANDIDATES], bodies[:_MAX_CANDIDATES]


def _without_our_tags(text: str, root: etree._Element) -> str | None:
    """``text`` without our tags, or ``None`` when search and parse do not agree on them."""
    base, removed = _OUR_TAG.subn("", text)
    if removed != len(_marked(root)):
        return None
    return base


def _keep_gating(root: etree._Element, snippet: Snippet) -> Snippet:
    """``snippet`` with the consent manager's gating of the page's tracker tag, if it has one
    (see :mod:`.gating`; the snippet's own gating wins)."""
    for element in _marked(root):
        if element.get(MARKER_ATTRIBUTE) == "tracker":
            names = {k: v for k, v in element.attrib.items() if isinstance(k, str) and k[0] != "{"}
            kept = gating(names)
            if kept is not None:
                return Snippet(snippet.head, with_gating(snippet.body, kept))
    return snippet


def inject_xhtml(data: bytes, snippet: Snippet) -> XhtmlResult:
    """Insert the snippet into an XHTML page read as bytes, keeping every other byte.

    Args:
        data: the page as stored, in its own encoding (byte order mark, else the XML
            declaration's, else UTF-8).
        snippet: the tags from :func:`aae_tracking_plugins.core.tags.render_xml_snippet`.

    Returns:
        The page with the stub as the first child of ``<head>`` and the tracker as the last
        child of ``<body>`` (our tags of an earlier run removed first, so running twice changes
        nothing), or the input and the reason it was left alone: not well-formed, no XHTML
        root, no ``<head>``/``</body>``, bytes that do not survive decoding, or a result the
        XML parser does not read as required.

    Raises:
        Nothing of its own: lxml's parse errors are reasons.
    """
    if not data.strip():
        return XhtmlResult(data, EMPTY_FILE)
    root = _parse(data)
    if isinstance(root, str):
        return XhtmlResult(data, root)
    encoding = _encoding(data)
    text = data.decode(encoding, "surrogateescape")
    if text.encode(encoding, "surrogateescape") != data:
        return XhtmlResult(data, f"its bytes do not decode and re-encode unchanged as {encoding}")
    base = _without_our_tags(text, root)
    if base is None:
        return XhtmlResult(data, "it carries tags of ours that are not written as inject writes")
    snippet = _keep_gating(root, snippet)
    spots = _candidates(base)
    if isinstance(spots, str):
        return XhtmlResult(data, spots)
    reason = "no candidate spot"
    for head in spots[0]:
        for body in spots[1]:
            if body <= head:
                continue
            output = base[:head] + snippet.head + base[head:body] + snippet.body + base[body:]
            try:
                encoded = output.encode(encoding, "surrogateescape")
            except UnicodeEncodeError:
                return XhtmlResult(data, f"the scripts cannot be written in {encoding}")
            problem = _verify(encoded, snippet)
            if problem is None:
                return XhtmlResult(encoded)
            reason = problem
    return XhtmlResult(data, reason)


def _html_tag(element: etree._Element, name: str) -> str:
    """``element`` as an empty HTML tag ``name`` with its (non-namespaced) attributes."""
    parts = [f"<{name}"]
    for key, value in element.attrib.items():
        if not isinstance(key, str) or key.startswith("{"):
            continue
        if key == "defer" and value in ("", "defer"):  # XML's way of writing a bare attribute
            parts.append(" defer")
        else:
            parts.append(f' {key}="{html.escape(value, quote=True)}"')
    return "".join(parts) + f"></{name}>"


def _attributes_report(
    page: str, stubs: list[etree._Element], tracker: etree._Element
) -> PageReport:
    """Whether the tags carry what this version writes: :func:`audit_page` on an HTML page with
    the same attributes (one rule for both languages; script text is not compared there)."""
    pixel = ""
    pixel_id = tracker.get("data-facebook-pixel-id")
    if pixel_id:  # XML pages carry no <noscript> fallback: give the audit the one it expects
        image = html.escape(PIXEL_IMAGE_URL.format(pixel_id=pixel_id), quote=True)
        pixel = f'<noscript {MARKER_ATTRIBUTE}="pixel"><img src="{image}"></noscript>'
    stub_tags = "".join(_html_tag(stub, "script") for stub in stubs)
    page_html = (
        f"<!DOCTYPE html><html><head>{stub_tags}</head><body><p>x</p>"
        f"{_html_tag(tracker, 'script')}{pixel}</body></html>"
    )
    return audit_page(page, page_html.encode("utf-8"), _HTML_PROBE)


_HTML_PROBE = Snippet(head="", body="")  # never used: the HTML page above has a tracker


def _tracker_problem(tracker: etree._Element) -> str | None:
    """Why the tracker element would not run in an XML document, if it would not."""
    if tracker.tag != _SCRIPT:
        return "its tracker tag is not an XHTML <script> element, which browsers do not run"
    if any(ancestor.tag == _TEMPLATE for ancestor in tracker.iterancestors()):
        return "its tracker tag is inside <template>, whose content never runs"
    return None


def audit_xhtml(page: str, data: bytes, probe: Snippet) -> PageReport:
    """:func:`aae_tracking_plugins.core.audit.audit_page` for an XHTML page.

    Args:
        page: the page's path relative to the site root, with ``/`` separators.
        data: the page as stored.
        probe: an XML snippet (:func:`~aae_tracking_plugins.core.tags.render_xml_snippet`):
            a page without a tracker is injected with it in memory to tell ``untracked`` from
            ``left-alone``.

    Returns:
        A :class:`PageReport`: ``not-a-page`` (empty), ``left-alone`` (not well-formed, no XHTML
        root, or refused by :func:`inject_xhtml`), ``untracked``, ``duplicate``, ``outdated``
        (attributes not what this version writes, as :func:`audit_page` decides, or a Pixel
        ``<noscript>``, which XML documents ignore) or ``tracked``.
    """
    if not data.strip():
        return PageReport(page, NOT_PAGE, reason=EMPTY_FILE)
    root = _parse(data)
    if isinstance(root, str):
        return PageReport(page, LEFT_ALONE, reason=root)
    marked = _marked(root)
    trackers = [element for element in marked if element.get(MARKER_ATTRIBUTE) == "tracker"]
    infos = tuple(
        TrackerInfo(
            tracker.get("data-landing-page-id"),
            tracker.get("data-campaign-id"),
            tracker.get("data-endpoint"),
        )
        for tracker in trackers
    )
    if len(trackers) > 1:
        ids = ", ".join(info.label() for info in infos)
        reason = f"{len(trackers)} tracker tags ({ids}); re-run inject"
        return PageReport(page, DUPLICATE, infos, reason)
    if not trackers:
        trial = inject_xhtml(data, probe)
        if trial.skipped_reason is not None:
            return PageReport(page, LEFT_ALONE, reason=trial.skipped_reason)
        has_stub = any(element.get(MARKER_ATTRIBUTE) == "stub" for element in marked)
        reason = "only a queue stub, no tracker" if has_stub else "no tracker"
        return PageReport(page, UNTRACKED, reason=reason)
    problem = _tracker_problem(trackers[0])
    if problem is not None:
        return PageReport(page, UNTRACKED, infos, problem)
    stubs = [element for element in marked if element.get(MARKER_ATTRIBUTE) == "stub"]
    report = _attributes_report(page, stubs, trackers[0])
    if any(element.get(MARKER_ATTRIBUTE) == "pixel" for element in marked):
        note = "it has a Pixel <noscript> fallback, which XML documents ignore"
        reason = f"{note}; {report.reason or 're-run inject'}"
        if report.status in (TRACKED, GATED, OUTDATED):
            return PageReport(page, OUTDATED, infos, reason)
    return PageReport(page, report.status, infos, report.reason)
