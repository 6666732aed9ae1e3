"""A consent manager's gating of our tracker tag: what counts as one, and how inject keeps it.

Consent managers (Klaro, vanilla-cookieconsent, Cookiebot...) gate a script by making it a
``type="text/plain"`` data block, which browsers never run, and naming a category in an
attribute of their own; once the visitor accepts, they insert a running copy of the tag. So a
tracker tag is *gated* when its ``type`` is neither JavaScript nor ``module`` and it carries at
least one attribute that our template never writes (the manager's category). Such a tag is not
broken: ``check`` reports it as gated, and ``inject`` puts the same gating on the tag that
replaces it rather than make a tag that runs without consent (docs/consent.md).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from aae_tracking_plugins.core.engine.running import JAVASCRIPT_MIME_TYPES
from aae_tracking_plugins.core.engine.search import (
    MARKER_ATTRIBUTE,
    find_tracker_tags,
    marker_value,
)

__all__ = ["TRACKER_ATTRIBUTES", "gating", "old_gating", "with_gating"]

#: Every attribute our tracker tag template (templates/tracker_tag.html.j2) writes, besides a
#: consent manager's: anything else on a tracker tag was put there by someone else.
#: tests/unit/test_consent_manager_settings.py checks the template against it.
TRACKER_ATTRIBUTES = frozenset(
    {
        MARKER_ATTRIBUTE,
        "src",
        "integrity",
        "defer",
        "data-landing-page-id",
        "data-campaign-id",
        "data-endpoint",
        "data-track-automation",
        "data-batch",
        "data-facebook-pixel-id",
        "data-variant",
        "data-debug",
        "data-engagement",
        "data-web-vitals",
        "data-events",
        "data-checkout",
        "data-consent",
        "data-gpc",
        "data-cookieless",
        "data-material-consent",
        "data-query-params",
    }
)
_ASCII_WHITESPACE = "\t\n\f\r "


def gating(attributes: Mapping[str, str | None]) -> dict[str, str] | None:
    """The gating of a tracker tag with these attributes, or ``None`` when it is not gated.

    Args:
        attributes: the tag's attributes as parsed (names lower-case, values unescaped;
            ``None`` or ``""`` for one without a value).

    Returns:
        ``{"type": ..., name: value, ...}``: its ``type`` and every attribute that is not one of
        :data:`TRACKER_ATTRIBUTES`, in the tag's order, when the ``type`` is a data block (not
        a JavaScript MIME type, not ``module``: HTML standard, 4.12.1.1, "prepare the script
        element" step 8) and at least one such attribute is there. ``None`` otherwise: a tag
        that runs, or one that nothing would ever run (``type="text/plain"`` alone).
    """
    script_type = attributes.get("type")
    if script_type is None:
        return None
    essence = script_type.strip(_ASCII_WHITESPACE).lower()
    if essence in ("", "module", *JAVASCRIPT_MIME_TYPES):
        return None
    found = {
        name: value or "" for name, value in attributes.items() if name not in TRACKER_ATTRIBUTES
    }
    return found if len(found) > 1 else None


def old_gating(text: str) -> dict[str, str] | None:
    """The gating of the first gated tracker tag of ours that a plain search finds in ``text``.

    Called only on pages whose tags the engine has already matched with an HTML5 parse
    (:func:`.inject._without_ours`), so the plain search sees what a browser sees.
    """
    for tag, _end in find_tracker_tags(text):
        if tag.name == "script" and marker_value(tag) == "tracker":
            attributes = {name: html.unescape(value) for name, value in tag.attributes().items()}
            found = gating(attributes)
            if found is not None:
                return found
    return None


def with_gating(body: str, kept: Mapping[str, str]) -> str:
    """A snippet's body (the tracker tag, then any Pixel ``<noscript>``) with the attributes
    ``kept`` written right after ``<script``, values HTML-escaped, and without the Pixel's
    ``<noscript>`` image, which nothing could gate. ``body`` itself when its tracker tag is gated
    already: its own settings name a consent manager, and they win."""
    tags = find_tracker_tags(body)
    if not tags or not body.startswith("<script "):
        return body
    tracker, end = tags[0]
    attributes = {name: html.unescape(value) for name, value in tracker.attributes().items()}
    if gating(attributes) is not None:
        return body
    written = "".join(f' {name}="{html.escape(value, quote=True)}"' for name, value in kept.items())
    return "<script" + written + body[len("<script") : end]
