"""Validators of single setting values, and :class:`ConfigError`, their one error type.

Shared by the flat settings (:mod:`aae_tracking_plugins.core.settings`) and the tracking plan
(:mod:`aae_tracking_plugins.core.plan`). Each validator takes the setting's name (used in the
message) and the raw value, and returns the normalised value or raises :class:`ConfigError`.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

#: Ids travel in cookies-free JSON payloads and HTML attributes; keeping them to a short, boring
#: alphabet means no id can ever carry markup, whitespace or personal data by accident.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ID_RULE = "1-64 characters: letters, digits, '_', '-', '.', ':' (starting with a letter or digit)"
#: A Meta (Facebook) Pixel id: digits only (see docs/facebook-pixel.md).
PIXEL_ID_PATTERN = re.compile(r"[0-9]{5,20}")
_LOOPBACK_NAMES = {"localhost"}


class ConfigError(ValueError):
    """A setting is missing or invalid. ``str(error)`` is one line that names the setting."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def show_value(value: object) -> str:
    """Render a bad value for an error message: repr, shortened so a huge value stays one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_id(setting: str, value: object) -> str:
    """The id as text; whole numbers are accepted (YAML reads ``campaign_id: 456`` as int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ConfigError(setting, f"must be a text identifier, got {show_value(value)}")
    if not ID_PATTERN.fullmatch(value):
        raise ConfigError(
            setting, f"must be a short identifier ({ID_RULE}), got {show_value(value)}"
        )
    return value


def validate_pixel_id(setting: str, value: object) -> str:
    """A Meta Pixel id as text: 5-20 ASCII digits (a whole number from YAML/TOML is accepted)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not PIXEL_ID_PATTERN.fullmatch(value):
        raise ConfigError(
            setting,
            "must be a Meta Pixel id (5-20 digits, e.g. '1234567890123456'), "
            f"got {show_value(value)}",
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
            setting,
            f"must be a boolean (true or false, not text or a number), got {show_value(value)}",
        )
    return value


def validate_choice(setting: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of the texts ``choices`` (a setting with named modes).

    Args:
        setting: the setting's name, for the message.
        value: the raw value (YAML/TOML/Python).
        choices: the allowed texts, the default first.

    Returns:
        ``value``, unchanged.

    Raises:
        ConfigError: ``value`` is not one of ``choices`` (a boolean too: YAML reads ``no`` and
            ``off`` as false, which names no mode).
    """
    if not isinstance(value, str) or value not in choices:
        names = ", ".join(repr(choice) for choice in choices)
        raise ConfigError(setting, f"must be one of {names}, got {show_value(value)}")
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
        raise ConfigError(setting, f"must be a URL such as '{example}', got {show_value(value)}")
    if value != value.strip() or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ConfigError(
            setting, f"must not contain spaces or control characters, got {show_value(value)}"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigError(setting, f"is not a valid URL ({exc}), got {show_value(value)}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            setting,
            f"must be an absolute https:// URL such as '{example}', got {show_value(value)}",
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            setting,
            "must use https:// (plain http:// is only allowed for loopback hosts: localhost, "
            "127.0.0.1 (any 127.x.x.x) and [::1]), "
            f"got {show_value(value)}",
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            setting, f"must not contain a user name or password, got {show_value(value)}"
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(
            setting, f"must not have a query string or fragment, got {show_value(value)}"
        )
    return value.rstrip("/")
