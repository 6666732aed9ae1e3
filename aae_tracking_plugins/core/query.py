"""Which query-string keys the URLs in events keep: the built-in allow-list and ``query_params``.

The tracker (``js/util.js``, ``here()``) sends every URL (a PageView's ``url`` and ``referrer``,
each event's ``url``) without its fragment and with only the query keys of an allow-list: the
UTM parameters, ``gclid`` and ``fbclid`` (:data:`BUILT_IN_QUERY_KEYS`), plus the keys a site
adds with the ``query_params`` setting. A referrer from another origin keeps its origin and path
only. docs/security-privacy.md ("What is and isn't collected") states the rule for users.

This module validates ``query_params``; ``TrackingConfig`` calls it, and the tracker tag carries
the keys as ``data-query-params="ref plan"`` (space-separated).
"""

from __future__ import annotations

import re
from typing import Final

from aae_tracking_plugins.core.plan import PARAM_PATTERN
from aae_tracking_plugins.core.values import ConfigError, show_value

__all__ = ["BUILT_IN_QUERY_KEYS", "MAX_QUERY_PARAMS", "UTM_KEYS", "validate_query_params"]

#: The campaign parameters of Google Analytics' URL builder, also kept for the session and sent
#: in ``event_data`` under their own names (``js/utm.js``).
UTM_KEYS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
#: Query keys every sent URL keeps (``js/util.js`` ``KEEP`` is the same list): the UTM
#: parameters, Google Ads' click id and Meta's click id.
BUILT_IN_QUERY_KEYS: Final = (*UTM_KEYS, "gclid", "fbclid")
#: At most this many keys in ``query_params``.
MAX_QUERY_PARAMS: Final = 20
#: Keys that name a contact or a secret (compared in lower case, ``-`` read as ``_``): keeping
#: them would send personal data with every URL, which the allow-list exists to prevent. The
#: OAuth 2.0 names (``code``, ``state``, ``access_token``, ``id_token``: RFC 6749 sections
#: 4.1.2 and 4.2.2, OpenID Connect Core 3.2.2.5) carry grants and tokens.
PERSONAL_QUERY_KEYS: Final = frozenset(
    {
        "email",
        "e_mail",
        "mail",
        "phone",
        "tel",
        "mobile",
        "name",
        "first_name",
        "last_name",
        "address",
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "code",
        "state",
        "auth",
        "authorization",
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "client_secret",
        "key",
        "api_key",
        "apikey",
        "session",
        "sessionid",
        "session_id",
        "sid",
        "ssn",
    }
)

#: Words that name a contact or a secret wherever they stand in a key: ``user_email``,
#: ``customerEmail``, ``phone_number``, ``X-Amz-Signature`` (AWS signed URLs), ``reset-token``.
#: Only unambiguous words: ``code``, ``name``, ``key`` or ``state`` are refused as whole keys
#: alone, since ``promo_code``, ``plan_name`` or ``country_code`` are a site's own harmless keys.
PERSONAL_QUERY_WORDS: Final = frozenset(
    {
        "email",
        "mail",
        "phone",
        "mobile",
        "password",
        "passwd",
        "pwd",
        "token",
        "secret",
        "apikey",
        "ssn",
        "jwt",
        "otp",
        "signature",
    }
)
#: Where a key splits into words: ``_ - . [ ]`` and a lower-to-upper case change (camelCase).
_WORD_BREAK = re.compile(r"[_\-.\[\]]+|(?<=[a-z0-9])(?=[A-Z])")


def is_personal_key(key: str) -> bool:
    """Whether the query key ``key`` names a contact or a secret: as a whole
    (:data:`PERSONAL_QUERY_KEYS`, compared in lower case with ``-`` read as ``_``), or by one of
    its words (:data:`PERSONAL_QUERY_WORDS`)."""
    if key.lower().replace("-", "_") in PERSONAL_QUERY_KEYS:
        return True
    return any(word.lower() in PERSONAL_QUERY_WORDS for word in _WORD_BREAK.split(key))


def validate_query_params(setting: str, value: object) -> tuple[str, ...]:
    """``query_params``: the site's own query keys that sent URLs keep, besides the built-in ones.

    Args:
        setting: the setting's name, for the messages (``query_params``, or
            ``AAE_TRACKING['query_params']``).
        value: a list (or tuple) of key names as the front end read it (YAML list, TOML array,
            Python list; the CLI splits ``--query-params ref,plan`` into one).

    Returns:
        The keys, in the given order, without repeats and without the built-in ones
        (:data:`BUILT_IN_QUERY_KEYS`, kept anyway).

    Raises:
        ConfigError: ``value`` is not a list, has more than :data:`MAX_QUERY_PARAMS` keys, or a
            key is not a query parameter name (``PARAM_PATTERN`` of core/plan.py: 1-64 of
            letters, digits, ``_ . - [ ]``, not starting with a digit, ``.``, ``-`` or a bracket)
            or names personal data or a secret (:func:`is_personal_key`); the entry is named,
            e.g. ``query_params[1]: must be a query parameter name such as 'ref', got 'a b'``.
    """
    if not isinstance(value, (list, tuple)):
        raise ConfigError(
            setting,
            f"must be a list of query parameter names such as [ref, plan], got {show_value(value)}",
        )
    if len(value) > MAX_QUERY_PARAMS:
        raise ConfigError(setting, f"must have at most {MAX_QUERY_PARAMS} keys, got {len(value)}")
    keys: list[str] = []
    for index, key in enumerate(value):
        where = f"{setting}[{index}]"
        if not isinstance(key, str) or not PARAM_PATTERN.fullmatch(key):
            raise ConfigError(
                where, f"must be a query parameter name such as 'ref', got {show_value(key)}"
            )
        if is_personal_key(key):
            raise ConfigError(
                where,
                f"{key!r} would send personal data or a secret with every URL; "
                "not allowed (docs/security-privacy.md)",
            )
        if key not in keys and key not in BUILT_IN_QUERY_KEYS:
            keys.append(key)
    return tuple(keys)
