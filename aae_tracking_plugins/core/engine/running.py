"""Would a page's tracker run? What ``aae-tracking check`` counts as tracked.

A tracker tag counts only when a browser runs it as a classic script: found in the HTML5 parse
(:func:`.verify.parse`) as a ``<script data-aae-tracking="tracker">`` outside ``<template>``
content, SVG/MathML, ``<noscript>`` and raw text, with a ``type`` that runs JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aae_tracking_plugins.core.engine.search import MARKER_ATTRIBUTE
from aae_tracking_plugins.core.engine.verify import ancestors, blocker, parse

__all__ = ["JAVASCRIPT_MIME_TYPES", "script_type_problem", "tracker_problem", "tracker_problem_in"]

#: The JavaScript MIME type essences (MIME Sniffing standard, 4.6 "MIME type groups",
#: "JavaScript MIME type"): a ``type`` attribute naming one of them runs a classic script.
JAVASCRIPT_MIME_TYPES = frozenset(
    "application/ecmascript application/javascript application/x-ecmascript "
    "application/x-javascript text/ecmascript text/javascript text/javascript1.0 "
    "text/javascript1.1 text/javascript1.2 text/javascript1.3 text/javascript1.4 "
    "text/javascript1.5 text/jscript text/livescript text/x-ecmascript "
    "text/x-javascript".split()
)
_ASCII_WHITESPACE = "\t\n\f\r "


def script_type_problem(attributes: dict[str, str | None]) -> str | None:
    """Why a ``<script>`` with these attributes would not run as a classic script, if it would not.

    Follows the HTML standard, 4.12.1.1 "Processing model", "prepare the script element" step 8:
    no ``type`` and no ``language`` attribute, an empty one, or a ``type`` that is a JavaScript
    MIME type essence (ASCII whitespace stripped, any letter case) runs a classic script;
    ``module`` runs a module script, where ``document.currentScript`` (which our tracker reads
    its settings from) is ``null``; anything else (``text/plain``, as consent managers use
    until consent) is a data block that never runs. A classic script with ``nomodule`` does
    not run in browsers that support modules (step 20, "prepare the script element").

    Args:
        attributes: the element's attributes as parsed (names lower-case, values unescaped;
            ``None`` for an attribute without a value).

    Returns:
        ``None`` when the script runs as a classic script, else the reason.
    """
    script_type = attributes.get("type")
    language = attributes.get("language")
    if script_type is not None:
        kind = script_type
    else:
        kind = "text/" + language if language else "text/javascript"
    essence = kind.strip(_ASCII_WHITESPACE).lower()
    if essence in ("", *JAVASCRIPT_MIME_TYPES):
        if "nomodule" in attributes:
            return "its tracker tag has nomodule, so browsers with modules skip it"
        return None
    if essence == "module":
        return 'its tracker tag is type="module", where the tracker cannot read its settings'
    return f"its tracker tag is type={kind!r}, which browsers do not run"


def tracker_problem_in(
    tree: LexborHTMLParser, *, gated: Callable[[LexborNode], bool] | None = None
) -> str | None:
    """Why the tracker of the parsed page would not run in a browser, or ``None`` when it would.

    Args:
        tree: the page's parse (:func:`parse`); the page carries at least one tag with
            ``data-aae-tracking``.
        gated: when given, a tracker tag for which it says ``True`` (a consent manager's
            gating, :func:`.gating.gating`) counts as running whatever its ``type``: the
            manager runs a copy of it once the visitor consents.

    Returns:
        ``None`` when the parse shows a ``<script data-aae-tracking="tracker">`` that runs: not
        in ``<template>`` content, not in SVG/MathML or ``<noscript>`` (see
        :data:`NOT_RUNNING_ANCESTORS`), with a ``type`` that :func:`script_type_problem`
        accepts. Otherwise the reason, for the report (the first tracker's, when none runs).
    """
    selector = f'script[{MARKER_ATTRIBUTE}="tracker"]'
    found = tree.css(selector)
    if not found:
        if any(fragment.css(selector) for fragment in tree.template_fragments()):
            return "its tracker tag is inside <template>, whose content never runs"
        return "its tracker tag is not a script a browser runs (it is in text or a comment)"
    reasons = []
    for node in found:
        inner = blocker(ancestors(node))
        reason = (
            f"its tracker tag is inside <{inner}>, where it does not run"
            if inner is not None
            else None
            if gated is not None and gated(node)
            else script_type_problem(node.attributes)
        )
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0]


def tracker_problem(text: str) -> str | None:
    """:func:`tracker_problem_in` for a page's text (parsed here)."""
    return tracker_problem_in(parse(text))
