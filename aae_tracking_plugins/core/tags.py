"""Render the tags that go into pages from the Jinja2 templates and the built browser scripts.

Config values only ever reach the page as HTML-escaped attribute values (read by the tracker from
its tag's ``data-*`` attributes) or as ``tojson`` data, never as code, so no value can end the
``<script>`` element or run as JavaScript.

Two modes (``TrackingConfig.inline_script``; the tags are the contract with the browser script):

- inline (default): ``<script data-aae-tracking="stub">STUB</script>`` in ``<head>`` and
  ``<script data-aae-tracking="tracker" data-...>TRACKER</script>`` at the end of ``<body>``. A
  Content-Security-Policy allows them with the hashes from :func:`csp_hashes`.
- external (``inline_script: false``, for ``script-src 'self'``): the same tags with
  ``src="ROOT/aae-tracking/NAME.HASH.js" integrity="sha384-..."`` (the tracker also ``defer``) and
  no script text; the files come from :func:`script_files` / :func:`write_script_files`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

import jinja2
from markupsafe import Markup

from aae_tracking_plugins.core.engine.inject import MARKER_ATTRIBUTE, Snippet
from aae_tracking_plugins.core.settings import TrackingConfig

# Inline script text must never contain these: each would end or re-mode the <script> element.
_UNSAFE_IN_SCRIPT = re.compile(r"</script|<script|<!--", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Za-z]{3}")

#: The directory, under the site root, that holds the script files of the external mode.
SCRIPT_DIR = "aae-tracking"
#: Marker attribute of the hidden per-page settings element (MkDocs; see docs/configure-mkdocs.md).
PAGE_MARKER_ATTRIBUTE = "data-aae-page"
#: The image the Pixel's ``<noscript>`` fallback loads (Meta's documented base code).
PIXEL_IMAGE_URL = "https://www.facebook.com/tr?id={pixel_id}&ev=PageView&noscript=1"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("aae_tracking_plugins", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def browser_script(name: str) -> Markup:
    """A built (minified) browser script shipped in the package, e.g. ``tracker``."""
    text = files("aae_tracking_plugins").joinpath(f"static/{name}.min.js").read_text("utf-8")
    text = text.strip()
    if _UNSAFE_IN_SCRIPT.search(text):  # a broken build must never reach a page
        raise RuntimeError(
            f"static/{name}.min.js contains markup that would break an inline script"
        )
    return Markup(text)


def tracker_build(config: TrackingConfig) -> str:
    """The name of the built tracker a page ships: ``"tracker"``, plus ``".batch"`` with
    ``batch``, ``".pixel"`` with ``facebook_pixel_id`` (only those carry Pixel code) and
    ``".vitals"`` with ``web_vitals`` (only those measure Core Web Vitals) and ``".checkout"``
    with ``checkout_links`` (only those hand the session id to a hosted checkout), in that
    order."""
    name = "tracker.batch" if config.batch else "tracker"
    name = name + ".pixel" if config.facebook_pixel_id else name
    name = name + ".vitals" if config.web_vitals else name
    return name + ".checkout" if config.checkout_links else name


@dataclass(frozen=True)
class ScriptFile:
    """A browser script as the external mode writes it: ``SCRIPT_DIR/name`` holding ``data``.

    ``name`` is ``SCRIPT.HASH.js`` (HASH: the first 10 hex digits of the data's SHA-256), so a new
    version gets a new name and no cache can serve a stale copy; ``integrity`` is the Subresource
    Integrity value (``sha384-`` + base64) the tags carry.
    """

    name: str
    data: bytes
    integrity: str


@cache
def script_file(script: str) -> ScriptFile:
    """The file for the built script ``script`` (``"stub"`` or a :func:`tracker_build`).

    Raises ``OSError`` if the package lacks ``static/{script}.min.js``.
    """
    data = str(browser_script(script)).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()[:10]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")
    return ScriptFile(f"{script}.{digest}.js", data, integrity)


def script_files(config: TrackingConfig) -> tuple[ScriptFile, ScriptFile]:
    """The stub and tracker files the external mode needs for ``config`` (stub first)."""
    return script_file("stub"), script_file(tracker_build(config))


def write_script_files(site_root: str | os.PathLike[str], config: TrackingConfig) -> list[str]:
    """Write :func:`script_files` into ``site_root/aae-tracking/``; return the paths written.

    A file already there with the same bytes is left alone (so rebuilds do not touch it). Files
    of other versions are kept: pages cached elsewhere may still load them. Raises ``OSError``
    when the directory or a file cannot be written.
    """
    directory = os.path.join(site_root, SCRIPT_DIR)
    os.makedirs(directory, exist_ok=True)
    written = []
    for file in script_files(config):
        path = os.path.join(directory, file.name)
        try:
            with open(path, "rb") as existing:
                if existing.read() == file.data:
                    continue
        except OSError:
            pass
        with open(path, "wb") as output:
            output.write(file.data)
        written.append(path)
    return written


def root_for(page_path: str) -> str:
    """The relative URL from a page to the site root, for the page's path inside the site.

    ``"index.html"`` -> ``""``, ``"offer/index.html"`` -> ``"../"``, ``"a/b/c.html"`` ->
    ``"../../"``. ``page_path`` is where the file is written (MkDocs ``dest_uri``, a path
    relative to Pelican's output or the CLI's SITE_DIR), with ``/`` or ``os.sep`` separators.
    """
    parts = [part for part in page_path.replace(os.sep, "/").split("/") if part not in ("", ".")]
    return "../" * max(len(parts) - 1, 0)


def csp_hashes(config: TrackingConfig) -> list[tuple[str, str]]:
    """``(script, "'sha256-...'")`` for each inline script the inline mode puts in every page.

    The hash covers the exact script text of the tags :func:`render_snippet` renders, as a
    browser computes it for a Content-Security-Policy ``script-src`` source (CSP Level 3,
    "hash-source"). Ids and URLs live in attributes, so only the settings that choose another
    tracker build (:func:`tracker_build`: ``batch``, whether a ``facebook_pixel_id`` is set,
    ``web_vitals``, whether ``checkout_links`` are set) change the hashes.
    """
    hashes = []
    for script in ("stub", tracker_build(config)):
        digest = hashlib.sha256(str(browser_script(script)).encode("utf-8")).digest()
        hashes.append((script, "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"))
    return hashes


def _render(template: str, *, xml: bool = False, **values: object) -> str:
    return _environment().get_template(template).render(marker=MARKER_ATTRIBUTE, xml=xml, **values)


def _external(script: str, root: str) -> dict[str, object]:
    if root and not root.endswith("/"):
        raise ValueError(f"root must be empty or end with '/', got {root!r}")
    file = script_file(script)
    return {"src": f"{root}{SCRIPT_DIR}/{file.name}", "integrity": file.integrity}


def xml_script_text(script: str) -> Markup:
    """The text of an inline script as an XML document (XHTML) must carry it.

    ``<`` and ``&`` are plain characters inside a CDATA section (XML 1.0, section 2.7), and the
    ``/*...*/`` around the CDATA markers keeps the text valid JavaScript if the same file is
    ever served as ``text/html``, whose parser keeps the markers as script text.

    Args:
        script: the script text, as :func:`browser_script` returns it.

    Returns:
        ``/*<![CDATA[*/`` + ``script`` + ``/*]]>*/``.

    Raises:
        ValueError: ``script`` contains ``]]>``, which would end the CDATA section early.
    """
    if "]]>" in script:
        raise ValueError("the script contains ']]>', which cannot be written in a CDATA section")
    return Markup(f"/*<![CDATA[*/{script}/*]]>*/")


def _script_text(name: str, xml: bool) -> Markup:
    text = browser_script(name)
    return xml_script_text(text) if xml else text


@lru_cache(maxsize=256)
def render_head_stub(
    config: TrackingConfig | None = None, root: str = "", *, xml: bool = False
) -> str:
    """The ``<head>`` stub tag: inline, or (``config.inline_script`` false) loaded from ``root``.

    ``root`` is the URL from the page to the site root (:func:`root_for`, or an absolute path
    such as ``"/docs/"``); it only matters in the external mode. ``xml``: written for an XML
    document (the inline text in a CDATA section, see :func:`xml_script_text`).
    """
    if config is None or config.inline_script:
        return _render("head_stub.html.j2", xml=xml, stub_js=_script_text("stub", xml), src=None)
    return _render("head_stub.html.j2", xml=xml, stub_js="", **_external("stub", root))


@lru_cache(maxsize=256)  # one render per distinct config (and depth), not one per page
def render_tracker_tag(config: TrackingConfig, root: str = "", *, xml: bool = False) -> str:
    """The tracker tag, ``config`` in its ``data-*`` attributes (see :func:`render_head_stub`;
    with ``xml`` the external mode writes ``defer="defer"``, as XML has no bare attributes)."""
    variant = tracker_build(config)
    if config.inline_script:
        script = _script_text(variant, xml)
        return _render("tracker_tag.html.j2", xml=xml, config=config, tracker_js=script, src=None)
    external = _external(variant, root)
    return _render("tracker_tag.html.j2", xml=xml, config=config, tracker_js="", **external)


@lru_cache(maxsize=256)
def render_pixel_noscript(config: TrackingConfig) -> str:
    """The Pixel's ``<noscript>`` image fallback: "" without ``facebook_pixel_id``, and when
    ``consent`` is asked (``opt-in``/``opt-out``) or a ``consent_manager`` gates the tracker:
    without JavaScript nothing can ask or honour the visitor's choice, so the image would reach
    Facebook unasked (docs/consent.md)."""
    if not config.facebook_pixel_id or config.consent != "none" or config.gating:
        return ""
    image_url = PIXEL_IMAGE_URL.format(pixel_id=config.facebook_pixel_id)
    return _render("pixel_noscript.html.j2", image_url=image_url)


def render_snippet(config: TrackingConfig, root: str = "") -> Snippet:
    """Both tags for a page whose way to the site root is ``root`` (external mode only).

    With ``facebook_pixel_id`` (and ``consent: none``) the body part is the tracker tag
    followed by the Pixel's ``<noscript>`` fallback.
    """
    body = render_tracker_tag(config, root) + render_pixel_noscript(config)
    return Snippet(head=render_head_stub(config, root), body=body)


def render_xml_snippet(config: TrackingConfig, root: str = "") -> Snippet:
    """Both tags for an XML document (XHTML served as ``application/xhtml+xml``).

    The same tags as :func:`render_snippet`, written as well-formed XML: quoted attributes,
    ``defer="defer"``, inline text in a CDATA section (:func:`xml_script_text`). There is no
    Pixel ``<noscript>`` fallback: ``noscript`` has no effect in XML documents, so its image would
    load for every visitor (HTML standard, 4.12.2 "The noscript element": "must not be used in
    XML documents").

    Raises:
        ValueError: a built script contains ``]]>`` (see :func:`xml_script_text`).
    """
    body = render_tracker_tag(config, root, xml=True)
    return Snippet(head=render_head_stub(config, root, xml=True), body=body)


def render_page_marker(config: TrackingConfig | None) -> str:
    """The hidden per-page settings element (``None``: the page is opted out, ``"off"``).

    Placed inside the content that themes swap on client-side navigation (Material's instant
    navigation), so the tracker reads the current page's ids at every PageView and click.
    """
    return _render("page_marker.html.j2", attribute=PAGE_MARKER_ATTRIBUTE, config=config)


def render_purchase_call(
    order_value: float, currency: str, order_id: str | int | None = None
) -> str:
    """A self-contained ``<script>`` that records a Purchase, wherever on the page it is placed.

    It carries the queue stub, so it works before the tracker has loaded or without it.
    """
    if isinstance(order_value, bool) or not isinstance(order_value, (int, float)):
        raise ValueError(f"order_value must be a number, got {order_value!r}")
    if not math.isfinite(order_value) or order_value < 0:
        raise ValueError(f"order_value must be a finite number >= 0, got {order_value!r}")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise ValueError(
            f"currency must be a 3-letter ISO 4217 code such as 'USD', got {currency!r}"
        )
    if order_id is not None and (
        isinstance(order_id, bool) or not isinstance(order_id, (str, int))
    ):
        raise ValueError(f"order_id must be text or a whole number, got {order_id!r}")
    if isinstance(order_id, str) and not 0 < len(order_id) <= 128:
        raise ValueError(f"order_id must be 1-128 characters, got {order_id!r}")
    purchase = {
        "value": order_value,
        "currency": currency.upper(),
        "order_id": None if order_id is None else str(order_id),
    }
    return _render("purchase_call.html.j2", stub_js=browser_script("stub"), purchase=purchase)
