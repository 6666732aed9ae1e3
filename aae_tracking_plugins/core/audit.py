"""What ``aae-tracking check`` finds in one page: tracked, untracked, outdated, and why.

The classification reads the page with the same HTML5 parser that placement uses (Lexbor,
:mod:`.engine.verify`): our tags are the elements with the marker attribute, their attributes are
read from the parse (values decoded), a tracker counts only when it would run, and it is compared
with what this version writes for the settings it carries. A page without tags of ours is asked
of the engine itself: could it be tracked (untracked), or would it be left alone. The CLI reads
the files and prints; nothing here does I/O.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from aae_tracking_plugins.core.consent_managers import recognise
from aae_tracking_plugins.core.engine.charset import detect
from aae_tracking_plugins.core.engine.gating import gating
from aae_tracking_plugins.core.engine.inject import (
    AMP_PAGE,
    MARKER_ATTRIBUTE,
    NOT_A_PAGE,
    REDIRECT,
    Snippet,
    inject_bytes,
)
from aae_tracking_plugins.core.engine.running import tracker_problem_in
from aae_tracking_plugins.core.engine.verify import page_facts, parse
from aae_tracking_plugins.core.plan import (
    CheckoutLink,
    TrackingRule,
    validate_checkout_links,
    validate_rules,
)
from aae_tracking_plugins.core.settings import EVENTS_PATH, TrackingConfig
from aae_tracking_plugins.core.tags import PIXEL_IMAGE_URL, render_snippet, root_for
from aae_tracking_plugins.core.values import ConfigError
from aae_tracking_plugins.core.version import __version__

# Per-page statuses of ``check`` (shared with ``inject``'s outcomes: left-alone, not-a-page).
TRACKED = "tracked"
#: Tracked once the visitor consents: a consent manager gates the tracker tag (engine/gating.py).
GATED = "gated"
OUTDATED = "outdated"
UNTRACKED = "untracked"
DUPLICATE = "duplicate"
LEFT_ALONE = "left-alone"
NOT_PAGE = "not-a-page"
ERROR = "error"
CHECK_STATUSES = (TRACKED, GATED, OUTDATED, UNTRACKED, DUPLICATE, LEFT_ALONE, NOT_PAGE, ERROR)
#: Statuses that make ``check`` exit with 1 (unless the page matches an ``--ignore`` glob).
FAILING_STATUSES = frozenset({UNTRACKED, DUPLICATE, LEFT_ALONE, ERROR})
#: Reasons of ``left-alone`` pages that inject leaves alone on purpose: they do not fail.
ON_PURPOSE_REASONS = frozenset({AMP_PAGE})


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


@dataclass(frozen=True)
class TrackerInfo:
    """The ids a tracker tag carries (``None`` when an attribute is missing)."""

    landing_page_id: str | None
    campaign_id: str | None
    endpoint: str | None

    def label(self) -> str:
        """``"lp_1 / camp_2 -> https://api.../events"``, as check prints it."""
        campaign = self.campaign_id or "(no campaign)"
        return f"{self.landing_page_id or '(no id)'} / {campaign} -> {self.endpoint or '(none)'}"


@dataclass(frozen=True)
class PageReport:
    """What ``check`` says about one page: its path (relative, ``/``-separated), one of
    :data:`CHECK_STATUSES`, the tracker tags found, the reason, and whether ``--ignore`` matched."""

    path: str
    status: str
    trackers: tuple[TrackerInfo, ...] = ()
    reason: str | None = None
    ignored: bool = False

    @property
    def failing(self) -> bool:
        """Whether this page makes ``check`` exit with 1 (AMP pages and ignored ones do not)."""
        if self.status == LEFT_ALONE and self.reason in ON_PURPOSE_REASONS:
            return False
        return self.status in FAILING_STATUSES and not self.ignored

    def as_json(self) -> dict[str, object]:
        """The page's entry in ``check --json``: path, status, trackers, reason, ignored."""
        return {
            "path": self.path,
            "status": self.status,
            "trackers": [vars(tracker) for tracker in self.trackers],
            "reason": self.reason,
            "ignored": self.ignored,
        }


def _attributes(node: LexborNode) -> dict[str, str]:
    """An element's attributes as parsed (values decoded; "" for one without a value)."""
    return {name: value or "" for name, value in node.attributes.items()}


def _first_tag_attributes(markup: str) -> dict[str, str]:
    """The attributes of the first element ``markup`` holds (one of our rendered tags)."""
    node = parse(markup).css_first("script, noscript")
    assert node is not None  # our templates always render one
    return _attributes(node)


def _json_attribute(tracker: Mapping[str, str], name: str) -> object:
    """The JSON value of the tracker tag's attribute ``name`` (``None`` when it is absent).

    Raises:
        ValueError: the attribute is not valid JSON (the message names it).
    """
    text = tracker.get(name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"its tracker tag's {name} is not valid JSON ({exc})") from None


def _tag_plan(
    tracker: Mapping[str, str],
) -> tuple[tuple[TrackingRule, ...], tuple[CheckoutLink, ...]] | str:
    """The tracking plan (``data-events``) and the checkout links (``data-checkout``,
    ``[[prefix, param], ...]``) a tracker tag carries, or why they are not valid."""
    try:
        rules = _json_attribute(tracker, "data-events")
        pairs = _json_attribute(tracker, "data-checkout")
    except ValueError as exc:
        return str(exc)
    if pairs is not None and not (
        isinstance(pairs, list) and all(isinstance(pair, list) and len(pair) == 2 for pair in pairs)
    ):
        return "its tracker tag's data-checkout is not valid (not a list of [prefix, param] pairs)"
    links = [{"prefix": pair[0], "param": pair[1]} for pair in pairs or []]
    try:
        return (
            validate_rules("data-events", [] if rules is None else rules),
            validate_checkout_links("data-checkout", links),
        )
    except ConfigError as exc:
        return f"its tracker tag's settings are not valid ({exc})"


def _expected_tags(page: str, tracker: Mapping[str, str]) -> tuple[dict[str, str], ...] | str:
    """The attributes this version gives the stub and the tracker tag of ``page``, for the
    settings the page's tracker tag carries (or why those settings are not valid ones).

    Minifiers rewrite how a tag is written (quotes, order, spaces, the script text), never what
    its attributes say: comparing parsed values recognises our tags after any of them.
    """
    endpoint = tracker.get("data-endpoint", "")
    if not endpoint.endswith(EVENTS_PATH):
        return f"its tracker tag's data-endpoint {endpoint!r} does not end with {EVENTS_PATH}"
    plan = _tag_plan(tracker)
    if isinstance(plan, str):
        return plan
    rules, links = plan
    # A gating this version writes (a consent_manager's) is compared like any other setting.
    gate = gating(tracker)
    manager = (recognise(gate) if gate else None) or ("none", None)
    try:
        config = TrackingConfig(
            landing_page_id=tracker.get("data-landing-page-id", ""),
            api_base_url=endpoint[: -len(EVENTS_PATH)],
            campaign_id=tracker.get("data-campaign-id"),
            inline_script="src" not in tracker,
            track_automation="data-track-automation" in tracker,
            batch="data-batch" in tracker,
            facebook_pixel_id=tracker.get("data-facebook-pixel-id"),
            variant=tracker.get("data-variant"),
            debug="data-debug" in tracker,
            # Present means off (the tag only says data-engagement="false"); any other value
            # then differs from the expected tag, and the page is reported outdated.
            engagement="data-engagement" not in tracker,
            web_vitals="data-web-vitals" in tracker,
            cookieless="data-cookieless" in tracker,
            consent=tracker.get("data-consent", "none"),
            gpc=tracker.get("data-gpc", "opt-out"),
            consent_manager=manager[0],
            consent_category=manager[1],
            material_consent=tracker.get("data-material-consent"),
            query_params=tuple(tracker.get("data-query-params", "").split()),
            events=rules,
            checkout_links=links,
        )
    except ConfigError as exc:
        return f"its tracker tag's settings are not valid ({exc})"
    snippet = render_snippet(config, root_for(page))
    return _first_tag_attributes(snippet.head), _first_tag_attributes(snippet.body)


def _pixel_image(noscript: LexborNode) -> str | None:
    """The ``src`` of the image in our Pixel ``<noscript>`` (``None`` if it has none).

    With scripting on, a ``<noscript>``'s content is text (HTML standard, 13.2.6.4.7): the
    image is read from that text, parsed on its own.
    """
    image = parse(noscript.text(deep=True)).css_first("img")
    return None if image is None else image.attributes.get("src")


def _our_elements(tree: LexborHTMLParser) -> list[LexborNode]:
    """Our marked ``<script>``/``<noscript>`` elements: in the document, then in
    ``<template>`` contents (counted as tags of the page, never as running trackers)."""
    selector = f"script[{MARKER_ATTRIBUTE}], noscript[{MARKER_ATTRIBUTE}]"
    found = list(tree.css(selector))
    for fragment in tree.template_fragments():
        found += fragment.css(selector)
    return found


def _pixel_differences(tracker: Mapping[str, str], images: Sequence[str | None]) -> str | None:
    """How the page's Pixel ``<noscript>`` fallbacks differ from what its tracker tag needs
    (none when it asks for consent: see ``tags.render_pixel_noscript``)."""
    pixel_id = tracker.get("data-facebook-pixel-id")
    gated = gating(tracker) is not None
    if pixel_id is None or "data-consent" in tracker or gated:
        if images:
            why = "has no Pixel id" if not pixel_id else "is gated" if gated else "asks for consent"
            return f"it has a Pixel <noscript> fallback but its tracker tag {why}"
        return None
    if not images:
        return "it has no Pixel <noscript> fallback"
    if len(images) > 1:
        return f"it has {len(images)} Pixel <noscript> fallbacks"
    expected = PIXEL_IMAGE_URL.format(pixel_id=pixel_id)
    if images[0] != expected:
        return f"its Pixel <noscript> fallback loads {images[0]!r} instead of {expected!r}"
    return None


def _differences(kind: str, found: Mapping[str, str], expected: Mapping[str, str]) -> str | None:
    """Which attributes of our ``kind`` tag differ from what this version writes, if any."""
    changes = []
    for name in sorted(found.keys() | expected.keys()):
        if name not in found:
            changes.append(f"{name} missing")
        elif name not in expected:
            changes.append(f"{name} not expected")
        elif name == "src":
            # The file name holds the script's hash; the path to it depends on how the site
            # links its root (relative, or an absolute path such as /docs/).
            if posixpath.basename(found[name]) != posixpath.basename(expected[name]):
                changes.append(f"src {found[name]!r} instead of {expected[name]!r}")
        elif found[name] != expected[name]:
            changes.append(f"{name}={found[name]!r} instead of {expected[name]!r}")
    if not changes:
        return None
    listed = ", ".join(changes)
    return f"its {kind} tag is not the one of aae-tracking-plugins {__version__} ({listed})"


def audit_page(page: str, data: bytes, probe: Snippet) -> PageReport:
    """Whether the page ``data`` (its bytes, in its own encoding) carries exactly one tracker
    that would run, with the tags this version writes.

    Args:
        page: the page's path relative to the site root, with ``/`` separators (it sets the
            expected ``src`` of external scripts and is reported back).
        data: the page as stored.
        probe: any rendered snippet: a page without our tags is injected with it (in memory) to
            tell an untracked page from one the engine would leave alone.

    Returns:
        A :class:`PageReport` whose ``status`` is one of :data:`CHECK_STATUSES` (never
        ``error`` for an unreadable file, which the caller reports), with the reason.
    """
    encoding = detect(data)
    try:
        text = data.decode(encoding, "surrogateescape")
    except UnicodeError:  # e.g. a UTF-16 page cut in the middle of a character
        text = data.decode(encoding, "replace")
    if MARKER_ATTRIBUTE not in text.lower():
        return _without_tags(page, data, probe, stubs=False)
    tree = parse(text)
    tags = _OurTags.read(tree)
    infos = tuple(
        TrackerInfo(
            landing_page_id=attributes.get("data-landing-page-id"),
            campaign_id=attributes.get("data-campaign-id"),
            endpoint=attributes.get("data-endpoint"),
        )
        for attributes in tags.trackers
    )
    trackers = tags.trackers
    if page_facts(tree).redirect is not None:  # a redirect is no visit, tracked or not
        note = f"; it carries {_plural(len(trackers), 'tracker tag')}" if trackers else ""
        return PageReport(page, NOT_PAGE, infos, REDIRECT + note)
    if len(trackers) > 1:
        ids = ", ".join(info.label() for info in infos)
        return PageReport(
            page, DUPLICATE, infos, f"{len(trackers)} tracker tags ({ids}); re-run inject"
        )
    if len(trackers) == 1:
        # Tracked only when the tracker would run (or a consent manager would run it once the
        # visitor consents): classified from the HTML5 parse.
        problem = tracker_problem_in(tree, gated=lambda node: gating(_attributes(node)) is not None)
        if problem is not None:
            return PageReport(page, UNTRACKED, infos, problem)
        notes = _outdated(page, tags)
        if notes:
            return PageReport(page, OUTDATED, infos, "; ".join(notes) + "; re-run inject")
        gate = gating(trackers[0])
        if gate is not None:
            return PageReport(page, GATED, infos, _gated_reason(gate))
        return PageReport(page, TRACKED, infos)
    return _without_tags(page, data, probe, stubs=bool(tags.stubs))


def _gated_reason(gate: Mapping[str, str]) -> str:
    """What ``check`` says of a gated tracker tag: the gating, as written."""
    written = " ".join(f"{name}={value!r}" for name, value in gate.items())
    return f"its tracker tag runs once a consent manager has the visitor's consent ({written})"


@dataclass(frozen=True)
class _OurTags:
    """Our tags in a parsed page, recognised by their marker attribute whatever else a
    minifier changed: the attributes of each tracker and stub, and each Pixel fallback's image."""

    trackers: list[dict[str, str]]
    stubs: list[dict[str, str]]
    pixel_images: list[str | None]

    @classmethod
    def read(cls, tree: LexborHTMLParser) -> _OurTags:
        """Our tags in a parsed page, found by their marker attribute, with decoded values."""
        tags = cls([], [], [])
        for node in _our_elements(tree):
            attributes = _attributes(node)
            kind = attributes.get(MARKER_ATTRIBUTE)
            if node.tag == "noscript":
                tags.pixel_images.append(_pixel_image(node))
            elif kind == "tracker":
                tags.trackers.append(attributes)
            elif kind == "stub":
                tags.stubs.append(attributes)
        return tags


def _outdated(page: str, tags: _OurTags) -> list[str]:
    """How the page's one tracker, its stubs and Pixel fallbacks differ from what this version
    writes for the tracker's settings (empty when they do not)."""
    tracker = compared = tags.trackers[0]
    gate = gating(tracker)
    if gate is not None and recognise(gate) is None:
        # Someone else's gating (hand-written, or a manager we have no preset for): kept by
        # inject as it is, so only the rest of the tag is compared.
        compared = {name: value for name, value in tracker.items() if name not in gate}
    expected = _expected_tags(page, compared)
    if isinstance(expected, str):
        return [expected]
    stub_expected, tracker_expected = expected
    notes = [
        _differences("tracker", compared, tracker_expected),
        _pixel_differences(tracker, tags.pixel_images),
        None if tags.stubs else "it has no queue stub in <head>",
        *(_differences("queue stub", stub, stub_expected) for stub in tags.stubs),
    ]
    return [note for note in notes if note]


def _without_tags(page: str, data: bytes, probe: Snippet, *, stubs: bool) -> PageReport:
    """The report for a page without a tracker tag: untracked, left alone or not a page, as
    the engine decides when it tries to inject ``probe`` (in memory)."""
    try:
        trial = inject_bytes(data, probe)
    except Exception as exc:  # a bug in one page must not stop the others
        return PageReport(page, ERROR, reason=f"internal error {type(exc).__name__}: {exc}")
    if trial.skipped_reason is None:
        reason = "only a queue stub, no tracker" if stubs else "no tracker"
        return PageReport(page, UNTRACKED, reason=reason)
    if trial.skipped_reason in NOT_A_PAGE:
        return PageReport(page, NOT_PAGE, reason=trial.skipped_reason)
    return PageReport(page, LEFT_ALONE, reason=trial.skipped_reason)
