"""The one place that knows what a valid tracking setting is.

Both generator adapters and the command-line tool build a :class:`TrackingConfig` from their own
settings; every check lives here so that MkDocs, Pelican and the CLI report bad input the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from aae_tracking_plugins.core.consent_managers import (
    CONSENT_MANAGER_NAMES,
    gating_attributes,
    validate_category,
)
from aae_tracking_plugins.core.plan import (
    CheckoutLink,
    TrackingRule,
    validate_checkout_links,
    validate_rules,
)
from aae_tracking_plugins.core.query import validate_query_params
from aae_tracking_plugins.core.values import (
    ConfigError,
    validate_api_base_url,
    validate_bool,
    validate_choice,
    validate_id,
    validate_pixel_id,
)

EVENTS_PATH = "/api/v1/landing-pages/events"


#: On/off settings and their defaults (see docs/configure-*.md and docs/security-privacy.md).
#: ``inline_script``: false writes the scripts as hashed files loaded with ``src`` + ``integrity``
#: (strict Content-Security-Policy). ``track_automation``: also track browsers driven by
#: automation (``navigator.webdriver``). ``batch``: several events per request.
#: ``debug``: log every event to the console. ``engagement``: send the Engagement event.
#: ``web_vitals``: ship the build that measures Core Web Vitals and sends a WebVitals event.
#: ``cookieless``: no cookie; the session id and the retry queue in ``sessionStorage``.
BOOLEAN_SETTINGS: Mapping[str, bool] = {
    "inline_script": True,
    "track_automation": False,
    "batch": False,
    "debug": False,
    "engagement": True,
    "web_vitals": False,
    "cookieless": False,
}
#: Settings with named modes, and their modes (the default first); docs/consent.md.
#: ``consent``: ``none`` (not asked), ``opt-in`` (nothing stored or sent before the visitor
#: consents), ``opt-out`` (tracked until the visitor refuses). ``gpc``: what Global Privacy
#: Control stops: ``opt-out`` (all tracking) or ``first-party`` (the Pixel only).
CHOICE_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "consent": ("none", "opt-in", "opt-out"),
    "gpc": ("opt-out", "first-party"),
    # Consent managers (core/consent_managers.py): the one that gates the tracker tag.
    "consent_manager": CONSENT_MANAGER_NAMES,
}
SETTING_NAMES = (
    "landing_page_id",
    "campaign_id",
    "api_base_url",
    *BOOLEAN_SETTINGS,
    *CHOICE_SETTINGS,
    "consent_category",  # the consent manager's category for the tracker tag
    "facebook_pixel_id",
    "variant",
    "events",
    "checkout_links",
    "query_params",
)


@dataclass(frozen=True)
class TrackingConfig:
    """Validated tracking settings. Constructing one validates it; instances are always valid."""

    #: The landing page's id, sent as ``landing_page_id`` with every event (required).
    landing_page_id: str
    #: Where events go: ``{api_base_url}/api/v1/landing-pages/events``; https, or http on a
    #: loopback host (required).
    api_base_url: str
    #: The campaign's id, sent as ``campaign_id`` with every event (``null`` when not set).
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
    #: True: no cookie at all; the session id (and the retry queue) live in sessionStorage.
    cookieless: bool = False
    #: ``none``, ``opt-in`` or ``opt-out``: whether and how the visitor's consent is asked.
    consent: str = "none"
    #: ``opt-out``: Global Privacy Control stops all tracking; ``first-party``: the Pixel only.
    gpc: str = "opt-out"
    # Consent managers (docs/consent.md, "Consent managers"):
    #: The manager whose category gates the tracker tag (``type="text/plain"`` until consent):
    #: ``none``, ``vanilla-cookieconsent``, ``klaro`` or ``cookiebot``.
    consent_manager: str = "none"
    #: Its category (Klaro: service) for the tag; ``None``: the manager's default.
    consent_category: str | None = None
    #: The cookie id of ours in Material for MkDocs' cookie consent (``extra.consent``), whose
    #: stored choice the tracker follows; set by the MkDocs plugin, not a setting of its own.
    material_consent: str | None = None
    #: The A/B variant of the page, sent as ``event_data.variant`` with every event.
    variant: str | None = None
    #: The tracking plan: rules that send custom events for clicks and form submissions.
    events: tuple[TrackingRule, ...] = field(default=())
    #: Hosted-checkout links that get the session id appended (docs/checkout.md).
    checkout_links: tuple[CheckoutLink, ...] = field(default=())
    #: The site's own query keys that sent URLs keep, besides the UTM parameters, gclid and
    #: fbclid (core/query.py); every other key, and the fragment, is dropped.
    query_params: tuple[str, ...] = field(default=())

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
        for setting, choices in CHOICE_SETTINGS.items():
            validate_choice(setting, getattr(self, setting), choices)
        # Consent managers: the category checked against the manager, its default filled in.
        category = validate_category(self.consent_manager, self.consent_category)
        set_field(self, "consent_category", category)
        if self.material_consent is not None:
            set_field(
                self, "material_consent", validate_id("material_consent", self.material_consent)
            )
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
        set_field(self, "query_params", validate_query_params("query_params", self.query_params))

    @property
    def gating(self) -> tuple[tuple[str, str], ...]:
        """The consent manager's attributes on the tracker tag, in the order written (none
        without ``consent_manager``): ``(("type", "text/plain"), ("data-category", ...))``."""
        return gating_attributes(self.consent_manager, self.consent_category)

    @property
    def events_url(self) -> str:
        """Where the tracker sends events: ``{api_base_url}/api/v1/landing-pages/events``."""
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

    @property
    def query_params_text(self) -> str:
        """``query_params`` as the tracker tag's ``data-query-params``: space-separated."""
        return " ".join(self.query_params)

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
        category = settings.get("consent_category")  # consent managers
        # An unset (None) switch keeps its default; MkDocs passes every option, set or not.
        switches = {
            key: settings[key]
            for key in (*BOOLEAN_SETTINGS, *CHOICE_SETTINGS)
            if settings.get(key) is not None
        }
        try:
            # Only None is "not set": false, 0, "" or {} are refused, not read as no rules.
            rules_value = settings.get("events")
            links_value = settings.get("checkout_links")
            rules = validate_rules("events", [] if rules_value is None else rules_value)
            links = validate_checkout_links(
                "checkout_links", [] if links_value is None else links_value
            )
            query_value = settings.get("query_params")
            query_params = validate_query_params(
                "query_params", [] if query_value is None else query_value
            )
            return cls(
                landing_page_id=settings["landing_page_id"],  # type: ignore[arg-type]
                api_base_url=settings["api_base_url"],  # type: ignore[arg-type]
                campaign_id=None if campaign in (None, "") else campaign,  # type: ignore[arg-type]
                facebook_pixel_id=None if pixel in (None, "") else pixel,  # type: ignore[arg-type]
                variant=None if variant in (None, "") else variant,  # type: ignore[arg-type]
                consent_category=None if category in (None, "") else category,  # type: ignore[arg-type]
                events=rules,
                checkout_links=links,
                query_params=query_params,
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
