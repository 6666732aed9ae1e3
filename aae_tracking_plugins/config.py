"""The one place that knows what a valid tracking setting is.

Both generator adapters and the command-line tool build a :class:`TrackingConfig` from their own
settings; every check lives here so that MkDocs, Pelican and the CLI report bad input the same way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

EVENTS_PATH = "/api/v1/landing-pages/events"

#: Ids travel in cookies-free JSON payloads and HTML attributes; keeping them to a short, boring
#: alphabet means no id can ever carry markup, whitespace or personal data by accident.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ID_RULE = "1-64 characters: letters, digits, '_', '-', '.', ':' (starting with a letter or digit)"

#: On/off settings and their defaults (see docs/configure-*.md and docs/security-privacy.md).
#: ``inline_script``: false writes the scripts as hashed files loaded with ``src`` + ``integrity``
#: (strict Content-Security-Policy). ``track_automation``: also track browsers driven by
#: automation (``navigator.webdriver``). ``batch``: several events per request.
BOOLEAN_SETTINGS: Mapping[str, bool] = {
    "inline_script": True,
    "track_automation": False,
    "batch": False,
}
SETTING_NAMES = (
    "landing_page_id",
    "campaign_id",
    "api_base_url",
    *BOOLEAN_SETTINGS,
    "facebook_pixel_id",
)

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


def validate_api_base_url(value: object, setting: str = "api_base_url") -> str:
    """Return the URL without its trailing slash, or raise :class:`ConfigError`."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            setting, f"must be a URL such as 'https://api.aae.com', got {_show(value)}"
        )
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
            f"must be an absolute https:// URL such as 'https://api.aae.com', got {_show(value)}",
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
        for setting in BOOLEAN_SETTINGS:
            validate_bool(setting, getattr(self, setting))

    @property
    def events_url(self) -> str:
        return self.api_base_url + EVENTS_PATH

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
        # An unset (None) switch keeps its default; MkDocs passes every option, set or not.
        switches = {key: settings[key] for key in BOOLEAN_SETTINGS if settings.get(key) is not None}
        try:
            return cls(
                landing_page_id=settings["landing_page_id"],  # type: ignore[arg-type]
                api_base_url=settings["api_base_url"],  # type: ignore[arg-type]
                campaign_id=None if campaign in (None, "") else campaign,  # type: ignore[arg-type]
                facebook_pixel_id=None if pixel in (None, "") else pixel,  # type: ignore[arg-type]
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
        where: str = "",
    ) -> TrackingConfig:
        """A copy with per-page overrides applied.

        ``None`` keeps the site value; an empty ``campaign_id`` removes the campaign for the page,
        an empty ``facebook_pixel_id`` the Pixel.
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
        current = (self.landing_page_id, self.campaign_id, self.facebook_pixel_id)
        if (landing, campaign, pixel) == current:
            return self
        return replace(self, landing_page_id=landing, campaign_id=campaign, facebook_pixel_id=pixel)
