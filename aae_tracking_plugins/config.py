"""The one place that knows what a valid tracking setting is.

Both generator adapters and the command-line tool build a :class:`TrackingConfig` from their own
settings; every check lives here so that MkDocs, Pelican and the CLI report bad input the same way.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import cssselect

EVENTS_PATH = "/api/v1/landing-pages/events"

#: Ids travel in cookies-free JSON payloads and HTML attributes; keeping them to a short, boring
#: alphabet means no id can ever carry markup, whitespace or personal data by accident.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ID_RULE = "1-64 characters: letters, digits, '_', '-', '.', ':' (starting with a letter or digit)"

#: On/off settings and their defaults (see docs/configure-*.md and docs/security-privacy.md).
#: ``inline_script``: false writes the scripts as hashed files loaded with ``src`` + ``integrity``
#: (strict Content-Security-Policy). ``track_automation``: also track browsers driven by
#: automation (``navigator.webdriver``). ``batch``: several events per request.
#: ``debug``: log every event to the console. ``engagement``: send the Engagement event.
#: ``web_vitals``: ship the build that measures Core Web Vitals and sends a WebVitals event.
BOOLEAN_SETTINGS: Mapping[str, bool] = {
    "inline_script": True,
    "track_automation": False,
    "batch": False,
    "debug": False,
    "engagement": True,
    "web_vitals": False,
}
SETTING_NAMES = (
    "landing_page_id",
    "campaign_id",
    "api_base_url",
    *BOOLEAN_SETTINGS,
    "facebook_pixel_id",
    "variant",
    "events",
    "checkout_links",
)

#: The event types the tracker itself sends; custom events may not use these names, whose
#: ``event_data`` has a fixed shape (aae_tracking_plugins/schema/events.schema.json).
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

#: A Meta (Facebook) Pixel id: digits only (see docs/facebook-pixel.md).
PIXEL_ID_PATTERN = re.compile(r"[0-9]{5,20}")

_LOOPBACK_NAMES = {"localhost"}


class ConfigError(ValueError):
    """A setting is missing or invalid. ``str(error)`` is one line that names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def _show(value: object) -> str:
    """Render a bad value for an error message: repr, shortened so a huge value stays one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_id(setting: str, value: object) -> str:
    """The id as text; whole numbers are accepted (YAML reads ``campaign_id: 456`` as int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ConfigError(setting, f"must be a text identifier, got {_show(value)}")
    if not ID_PATTERN.fullmatch(value):
        raise ConfigError(setting, f"must be a short identifier ({ID_RULE}), got {_show(value)}")
    return value


def validate_pixel_id(setting: str, value: object) -> str:
    """A Meta Pixel id as text: 5-20 ASCII digits (a whole number from YAML/TOML is accepted)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not PIXEL_ID_PATTERN.fullmatch(value):
        raise ConfigError(
            setting,
            f"must be a Meta Pixel id (5-20 digits, e.g. '1234567890123456'), got {_show(value)}",
        )
    return value


def validate_bool(setting: str, value: object) -> bool:
    """``value`` if it is a real boolean (YAML/TOML ``true``/``false``, Python ``True``/``False``).

    Text such as ``"false"`` and numbers are refused rather than guessed at: ``"false"`` is true
    in Python, so accepting it would silently do the opposite of what was written.

    Raises:
        ConfigError: ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise ConfigError(
            setting, f"must be a boolean (true or false, not text or a number), got {_show(value)}"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_api_base_url(
    value: object, setting: str = "api_base_url", example: str = "https://api.aae.com"
) -> str:
    """Return the URL without its trailing slash, or raise :class:`ConfigError`.

    ``example`` is the URL the error messages suggest (an events API by default).
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(setting, f"must be a URL such as '{example}', got {_show(value)}")
    if value != value.strip() or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ConfigError(
            setting, f"must not contain spaces or control characters, got {_show(value)}"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(setting, f"is not a valid URL ({exc}), got {_show(value)}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            setting,
            f"must be an absolute https:// URL such as '{example}', got {_show(value)}",
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            setting,
            "must use https:// (plain http:// is only allowed for loopback hosts: localhost, "
            "127.0.0.1 (any 127.x.x.x) and [::1]), "
            f"got {_show(value)}",
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(setting, f"must not contain a user name or password, got {_show(value)}")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(setting, f"must not have a query string or fragment, got {_show(value)}")
    return value.rstrip("/")


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


@dataclass(frozen=True)
class TrackingConfig:
    """Validated tracking settings. Constructing one validates it; instances are always valid."""

    landing_page_id: str
    api_base_url: str
    campaign_id: str | None = None
    #: False: strict-CSP mode, the scripts are external hashed files with ``integrity``.
    inline_script: bool = True
    #: True: also track browsers that report ``navigator.webdriver`` (automation, test suites).
    track_automation: bool = False
    #: True: the tracker sends several events per request as ``{"events": [...]}``.
    batch: bool = False
    #: A Meta Pixel id: the page also loads Facebook's Pixel and sends it the same events.
    facebook_pixel_id: str | None = None
    #: True: every event is logged to the browser console with why it was sent or dropped.
    debug: bool = False
    #: False: no Engagement event (engaged time and scroll depth per page view).
    engagement: bool = True
    #: True: the page ships the tracker build that sends a WebVitals event.
    web_vitals: bool = False
    #: The A/B variant of the page, sent as ``event_data.variant`` with every event.
    variant: str | None = None
    #: The tracking plan: rules that send custom events for clicks and form submissions.
    events: tuple[TrackingRule, ...] = field(default=())
    #: Hosted-checkout links that get the session id appended (docs/checkout.md).
    checkout_links: tuple[CheckoutLink, ...] = field(default=())

    def __post_init__(self) -> None:
        # Normalise (ids as text, no trailing slash) while keeping the dataclass frozen.
        set_field = object.__setattr__
        set_field(self, "landing_page_id", validate_id("landing_page_id", self.landing_page_id))
        if self.campaign_id is not None:
            set_field(self, "campaign_id", validate_id("campaign_id", self.campaign_id))
        set_field(self, "api_base_url", validate_api_base_url(self.api_base_url))
        if self.facebook_pixel_id is not None:
            pixel = validate_pixel_id("facebook_pixel_id", self.facebook_pixel_id)
            set_field(self, "facebook_pixel_id", pixel)
        if self.variant is not None:
            set_field(self, "variant", validate_id("variant", self.variant))
        for setting in BOOLEAN_SETTINGS:
            validate_bool(setting, getattr(self, setting))
        # Already-validated rules and links (from from_mapping) are kept; anything else is
        # validated. Tuples either way: the config is hashable (renders are cached per config).
        rules = self.events
        if not all(isinstance(rule, TrackingRule) for rule in rules):
            rules = validate_rules("events", rules)
        set_field(self, "events", tuple(rules))
        links = self.checkout_links
        if not all(isinstance(link, CheckoutLink) for link in links):
            links = validate_checkout_links("checkout_links", links)
        set_field(self, "checkout_links", tuple(links))

    @property
    def events_url(self) -> str:
        return self.api_base_url + EVENTS_PATH

    @property
    def events_json(self) -> str:
        """The tracking plan as the tracker tag's ``data-events`` JSON ("" when empty)."""
        if not self.events:
            return ""
        return json.dumps([rule.as_json() for rule in self.events], separators=(",", ":"))

    @property
    def checkout_json(self) -> str:
        """``checkout_links`` as the tracker tag's ``data-checkout``: ``[[prefix, param], ...]``."""
        if not self.checkout_links:
            return ""
        pairs = [[link.prefix, link.param] for link in self.checkout_links]
        return json.dumps(pairs, separators=(",", ":"))

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object], *, where: str = "") -> TrackingConfig:
        """Build from a settings mapping (mkdocs.yml options, Pelican's dict, a config file).

        Keys are :data:`SETTING_NAMES`; ``None`` (or ``""`` for ids) means "not set".

        ``where`` prefixes every setting name in errors, e.g. ``"AAE_TRACKING"`` gives
        ``AAE_TRACKING['campaign_id']: must be ...``.
        """

        def name(key: str) -> str:
            return f"{where}[{key!r}]" if where else key

        unknown = sorted(str(key) for key in settings if key not in SETTING_NAMES)
        if unknown:
            raise ConfigError(
                name(unknown[0]),
                f"unknown setting (known settings: {', '.join(SETTING_NAMES)})",
            )
        for required in ("landing_page_id", "api_base_url"):
            if settings.get(required) in (None, ""):
                raise ConfigError(name(required), "is required but not set")
        campaign = settings.get("campaign_id")
        pixel = settings.get("facebook_pixel_id")
        variant = settings.get("variant")
        # An unset (None) switch keeps its default; MkDocs passes every option, set or not.
        switches = {key: settings[key] for key in BOOLEAN_SETTINGS if settings.get(key) is not None}
        try:
            # Only None is "not set": false, 0, "" or {} are refused, not read as no rules.
            rules_value = settings.get("events")
            links_value = settings.get("checkout_links")
            rules = validate_rules("events", [] if rules_value is None else rules_value)
            links = validate_checkout_links(
                "checkout_links", [] if links_value is None else links_value
            )
            return cls(
                landing_page_id=settings["landing_page_id"],  # type: ignore[arg-type]
                api_base_url=settings["api_base_url"],  # type: ignore[arg-type]
                campaign_id=None if campaign in (None, "") else campaign,  # type: ignore[arg-type]
                facebook_pixel_id=None if pixel in (None, "") else pixel,  # type: ignore[arg-type]
                variant=None if variant in (None, "") else variant,  # type: ignore[arg-type]
                events=rules,
                checkout_links=links,
                **switches,  # type: ignore[arg-type]
            )
        except ConfigError as exc:
            raise ConfigError(name(exc.setting), str(exc).split(": ", 1)[1]) from None

    def with_overrides(
        self,
        *,
        landing_page_id: object = None,
        campaign_id: object = None,
        facebook_pixel_id: object = None,
        variant: object = None,
        where: str = "",
    ) -> TrackingConfig:
        """A copy with per-page overrides applied.

        ``None`` keeps the site value; an empty ``campaign_id`` removes the campaign for the page,
        an empty ``facebook_pixel_id`` the Pixel, an empty ``variant`` the variant.

        Raises:
            ConfigError: an override is not valid (the setting is prefixed with ``where``).
        """

        def checked(key: str, value: object) -> str:
            try:
                if key == "facebook_pixel_id":
                    return validate_pixel_id(key, value)
                return validate_id(key, value)
            except ConfigError as exc:
                prefix = f"{where}: " if where else ""
                raise ConfigError(prefix + exc.setting, str(exc).split(": ", 1)[1]) from None

        landing = (
            self.landing_page_id
            if landing_page_id is None
            else checked("landing_page_id", landing_page_id)
        )
        campaign = self.campaign_id
        if campaign_id == "":
            campaign = None
        elif campaign_id is not None:
            campaign = checked("campaign_id", campaign_id)
        pixel = self.facebook_pixel_id
        if facebook_pixel_id == "":
            pixel = None
        elif facebook_pixel_id is not None:
            pixel = checked("facebook_pixel_id", facebook_pixel_id)
        page_variant = self.variant
        if variant == "":
            page_variant = None
        elif variant is not None:
            page_variant = checked("variant", variant)
        current = (self.landing_page_id, self.campaign_id, self.facebook_pixel_id, self.variant)
        if (landing, campaign, pixel, page_variant) == current:
            return self
        return replace(
            self,
            landing_page_id=landing,
            campaign_id=campaign,
            facebook_pixel_id=pixel,
            variant=page_variant,
        )
