"""The tracking plan (``events``: rules that send custom events) and hosted-checkout links.

Validation of the two settings that hold lists of rules, kept apart from the flat settings in
:mod:`aae_tracking_plugins.core.settings`. Every error is a :class:`ConfigError` that names the
rule and field, e.g. ``events[1].selector``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import cssselect

from aae_tracking_plugins.core.values import ConfigError, validate_api_base_url
from aae_tracking_plugins.core.values import show_value as _show

#: The event types the tracker itself sends; custom events may not use these names, whose
#: ``event_data`` has a fixed shape (aae_tracking_plugins/core/schema/events.schema.json).
STANDARD_EVENTS = ("PageView", "AddToCart", "Purchase", "Engagement", "WebVitals")
#: A custom event name: short, no spaces, usable as a Meta custom event name (which must be
#: under 50 characters) and as a column value without quoting.
EVENT_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")
EVENT_NAME_RULE = "1-50 characters: letters, digits and '_', starting with a letter"
#: A custom event's property key (``data-aae-prop-<key>``: HTML lowercases attribute names).
PROP_KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
PROP_KEY_RULE = "1-40 characters: lowercase letters, digits and '_', starting with a letter"
#: ``event_data`` keys the tracker fills in itself on a custom event.
RESERVED_PROP_KEYS = ("url", "timestamp", "variant", "fbp", "fbc")
MAX_PROPS = 20
MAX_PROP_TEXT = 200
MAX_RULES = 100
MAX_SELECTOR = 500
#: The query parameter a Stripe payment link passes on to the Checkout Session (and so to the
#: ``checkout.session.completed`` webhook): https://docs.stripe.com/payment-links/url-parameters
STRIPE_REFERENCE_PARAM = "client_reference_id"
PARAM_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]-]{0,63}")


def validate_event_name(setting: str, value: object) -> str:
    """A custom event name (:data:`EVENT_NAME_PATTERN`, not one of :data:`STANDARD_EVENTS`).

    Raises:
        ConfigError: ``value`` is not text of that form, or names a standard event.
    """
    if not isinstance(value, str) or not EVENT_NAME_PATTERN.fullmatch(value):
        raise ConfigError(setting, f"must be an event name ({EVENT_NAME_RULE}), got {_show(value)}")
    if value in STANDARD_EVENTS:
        raise ConfigError(
            setting,
            f"{value!r} is sent by the tracker itself; a custom event needs another name "
            "(e.g. Lead, SignUp, InitiateCheckout)",
        )
    return value


def validate_props(setting: str, value: object) -> tuple[tuple[str, str | float], ...]:
    """Custom event properties as sorted ``(key, value)`` pairs.

    ``value`` must be a mapping of at most :data:`MAX_PROPS` keys (:data:`PROP_KEY_PATTERN`, not
    :data:`RESERVED_PROP_KEYS`) to text of at most :data:`MAX_PROP_TEXT` characters or finite
    numbers (booleans are refused: ``true`` is not a number a report can sum).

    Raises:
        ConfigError: naming ``setting.key`` for the first bad key or value.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(
            setting, f"must be a mapping of property names to values, got {_show(value)}"
        )
    if len(value) > MAX_PROPS:
        raise ConfigError(setting, f"must have at most {MAX_PROPS} properties, got {len(value)}")
    pairs: list[tuple[str, str | float]] = []
    for key, item in value.items():
        if not isinstance(key, str) or not PROP_KEY_PATTERN.fullmatch(key):
            raise ConfigError(
                f"{setting}.{key}" if isinstance(key, str) else setting,
                f"property name must be {PROP_KEY_RULE}, got {_show(key)}",
            )
        if key in RESERVED_PROP_KEYS:
            raise ConfigError(
                f"{setting}.{key}",
                f"is filled in by the tracker (reserved: {', '.join(RESERVED_PROP_KEYS)})",
            )
        if isinstance(item, str):
            if len(item) > MAX_PROP_TEXT:
                raise ConfigError(f"{setting}.{key}", f"must be at most {MAX_PROP_TEXT} characters")
        elif (
            isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item)
        ):
            raise ConfigError(
                f"{setting}.{key}", f"must be text or a finite number, got {_show(item)}"
            )
        pairs.append((key, item))
    return tuple(sorted(pairs))


#: Pseudo-classes every current engine (Chromium, Firefox, WebKit) accepts in ``Element.matches``
#: (Selectors Level 4, https://www.w3.org/TR/selectors-4/, and the HTML standard's).
PSEUDO_CLASSES = frozenset(
    "active any-link autofill checked default defined dir disabled empty enabled first-child "
    "first-of-type focus focus-visible focus-within has hover in-range indeterminate invalid is "
    "lang last-child last-of-type link not nth-child nth-last-child nth-last-of-type nth-of-type "
    "only-child only-of-type optional out-of-range placeholder-shown read-only read-write "
    "required root scope target valid visited where".split()
)


def validate_selector(setting: str, value: object) -> str:
    """A CSS selector the browser can match elements with (``Element.matches``).

    Parsed with cssselect (the CSS Selectors Level 3 grammar, plus ``:is``/``:where``/``:has``);
    pseudo-elements (``::before``: never an element that can be clicked) and pseudo-classes
    outside :data:`PSEUDO_CLASSES` (cssselect's non-standard ``:contains()``, typos such as
    ``:hovr``) are refused.

    Raises:
        ConfigError: the selector is empty, too long or not valid.
    """
    if not isinstance(value, str) or not value.strip():
        hint = " (in YAML, quote a selector that starts with '#': '#pricing a')"
        raise ConfigError(
            setting,
            f"must be a CSS selector such as 'a.signup', got {_show(value)}"
            + (hint if value is None else ""),
        )
    if len(value) > MAX_SELECTOR:
        raise ConfigError(setting, f"must be at most {MAX_SELECTOR} characters")
    try:
        parsed = cssselect.parse(value)
    except cssselect.SelectorError as exc:
        raise ConfigError(setting, f"is not a valid CSS selector ({exc}): {_show(value)}") from None
    if any(selector.pseudo_element for selector in parsed):
        raise ConfigError(
            setting, f"must select elements, not a pseudo-element (::...): {_show(value)}"
        )
    # cssselect accepts any pseudo-class name; browsers refuse unknown ones (a typo such as
    # ``a:hovr`` would make the rule match nothing). Strings and attribute selectors are
    # removed first: a colon inside them is not a pseudo-class.
    bare = re.sub(r"\[[^\]]*\]|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'", "", value)
    for name in re.findall(r"(?<![:\\]):([A-Za-z-]+)", bare):
        if name.lower() not in PSEUDO_CLASSES:
            raise ConfigError(
                setting,
                f":{name} is not a pseudo-class every browser supports "
                f"(the Custom events page of the docs lists them): {_show(value)}",
            )
    return value


@dataclass(frozen=True)
class TrackingRule:
    """One rule of the tracking plan: activating an element that matches ``selector`` (a click;
    a form's submission) sends the custom event ``event`` with ``props``."""

    selector: str
    event: str
    props: tuple[tuple[str, str | float], ...] = ()

    def as_json(self) -> dict[str, object]:
        """The rule as the tracker tag's ``data-events`` item: ``{selector, event, props}``."""
        return {"selector": self.selector, "event": self.event, "props": dict(self.props)}


@dataclass(frozen=True)
class CheckoutLink:
    """Links whose URL starts with ``prefix`` get the session id as the query parameter
    ``param`` (docs/checkout.md)."""

    prefix: str
    param: str = STRIPE_REFERENCE_PARAM


def validate_rules(setting: str, value: object) -> tuple[TrackingRule, ...]:
    """The tracking plan: a list of ``{selector, event, props?}`` mappings.

    Raises:
        ConfigError: naming the rule (``events[2].selector``) and what is wrong.
    """
    if not isinstance(value, (list, tuple)):
        raise ConfigError(
            setting, f"must be a list of rules {{selector, event, props}}, got {_show(value)}"
        )
    if len(value) > MAX_RULES:
        raise ConfigError(setting, f"must have at most {MAX_RULES} rules, got {len(value)}")
    rules = []
    for index, rule in enumerate(value):
        where = f"{setting}[{index}]"
        if not isinstance(rule, Mapping):
            raise ConfigError(
                where, f"must be a mapping with selector, event and props, got {_show(rule)}"
            )
        unknown = sorted(str(key) for key in rule if key not in ("selector", "event", "props"))
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}", "unknown key (a rule has selector, event and props)"
            )
        for required in ("selector", "event"):
            if required not in rule:
                raise ConfigError(f"{where}.{required}", "is required but not set")
        rules.append(
            TrackingRule(
                validate_selector(f"{where}.selector", rule["selector"]),
                validate_event_name(f"{where}.event", rule["event"]),
                validate_props(f"{where}.props", rule.get("props") or {}),
            )
        )
    return tuple(rules)


def validate_checkout_links(setting: str, value: object) -> tuple[CheckoutLink, ...]:
    """``checkout_links``: URL prefixes (text), or ``{prefix, param}`` mappings.

    A prefix is an absolute https:// URL (http:// for loopback hosts) without a fragment, with at
    least a path ``/`` after the host, so ``https://buy.stripe.com`` cannot also match
    ``https://buy.stripe.com.evil.example``.

    Raises:
        ConfigError: naming the entry (``checkout_links[1].param``) and what is wrong.
    """
    if not isinstance(value, (list, tuple)):
        raise ConfigError(
            setting,
            f"must be a list of URL prefixes such as 'https://buy.stripe.com/', got {_show(value)}",
        )
    links = []
    for index, entry in enumerate(value):
        where = f"{setting}[{index}]"
        param: object = STRIPE_REFERENCE_PARAM
        prefix: object = entry
        if isinstance(entry, Mapping):
            unknown = sorted(str(key) for key in entry if key not in ("prefix", "param"))
            if unknown:
                raise ConfigError(f"{where}.{unknown[0]}", "unknown key (use prefix and param)")
            if "prefix" not in entry:
                raise ConfigError(f"{where}.prefix", "is required but not set")
            prefix = entry["prefix"]
            param = entry.get("param", STRIPE_REFERENCE_PARAM)
            where_prefix, where_param = f"{where}.prefix", f"{where}.param"
        else:
            where_prefix = where_param = where
        if not isinstance(param, str) or not PARAM_PATTERN.fullmatch(param):
            raise ConfigError(
                where_param, f"must be a query parameter name such as 'ref', got {_show(param)}"
            )
        stripe = "https://buy.stripe.com/"
        url = (
            validate_api_base_url(prefix, where_prefix, stripe) if isinstance(prefix, str) else None
        )
        if url is None:
            raise ConfigError(
                where_prefix, f"must be a URL prefix such as '{stripe}', got {_show(prefix)}"
            )
        # validate_api_base_url strips the trailing slash; keep the prefix as written, with
        # at least the root path, so the host always ends where the prefix says it does.
        assert isinstance(prefix, str)
        if urlsplit(prefix).path == "":
            prefix += "/"
        links.append(CheckoutLink(prefix, param))
    return tuple(links)
