"""Scan event payloads for personal data: what no event we send may carry.

The suite checks every event any test collector stores with :func:`personal_data_problems`
(``tests/conftest.py``), so every payload the browser tests produce is scanned. What counts as
personal here (docs/consent.md, "Nothing personal"):

- an email address or a phone number anywhere in a text the page or the visitor supplied
  (URLs, referrers, CTA texts, custom properties; after percent-decoding);
- a query-string parameter that carries a secret or a contact (``email=``, ``token=``,
  ``password=``, ``key=``, ...) in any URL sent;
- a referrer from another site with more than its origin and path (a query string or a
  fragment: the other site's search terms, session ids, tokens).

Fields the tracker itself makes (ids, timestamps, the user agent, the screen size, the Pixel's
``fbp``/``fbc`` cookies) are not free text and are not scanned for contacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

__all__ = ["SECRET_KEYS", "personal_data_problems"]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: 9 to 15 digits, optionally grouped by spaces, dots, dashes or brackets, optionally after +
#: or 00 (E.164 numbers have at most 15 digits).
PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\d(?:[ .()-]{0,2}\d){8,14}(?![\w])")
#: Query keys whose values are secrets or contacts (lower case, ``-`` read as ``_``).
SECRET_KEYS = frozenset(
    {
        "email",
        "e_mail",
        "mail",
        "phone",
        "tel",
        "mobile",
        "token",
        "code",
        "state",
        "session",
        "access_token",
        "id_token",
        "refresh_token",
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
        "sessionid",
        "session_id",
        "sid",
        "ssn",
        "name",
        "first_name",
        "last_name",
        "address",
    }
)
#: Event fields the tracker generates itself: not free text, not scanned for contacts.
GENERATED = frozenset(
    {
        "event_id",
        "session_id",
        "timestamp",
        "user_agent",
        "screen_resolution",
        "landing_page_id",
        "campaign_id",
        "event_type",
        "fbp",
        "fbc",
        "order_id",
    }
)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every text inside ``value`` with its dotted path (``event_data.props.plan``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _contacts(path: str, text: str) -> Iterator[str]:
    decoded = unquote_plus(text)
    for kind, pattern in (("an email address", EMAIL), ("a phone number", PHONE)):
        found = pattern.search(decoded)
        if found:
            yield f"{path}: {kind} ({found.group(0)!r})"


def _url_problems(path: str, text: str, page_origin: str | None) -> Iterator[str]:
    if not re.match(r"https?://", text, re.IGNORECASE):
        return
    parts = urlsplit(text)
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower().replace("-", "_") in SECRET_KEYS:
            yield f"{path}: query parameter {key!r} carries a secret or a contact"
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    external = page_origin is not None and origin != page_origin
    if path.endswith("referrer") and external and (parts.query or parts.fragment):
        yield f"{path}: another site's referrer with more than origin and path ({text!r})"


def personal_data_problems(events: Iterable[dict[str, Any]]) -> list[str]:
    """One line per piece of personal data found in ``events`` (an empty list: none).

    Args:
        events: event payloads as the collector stored them (the wire format of
            ``events.schema.json``).

    Returns:
        Lines like ``PageView 1f0c...: event_data.url: query parameter 'email' carries a
        secret or a contact``.
    """
    problems = []
    for event in events:
        label = f"{event.get('event_type')} {event.get('event_id')}"
        data = event.get("event_data")
        url = data.get("url") if isinstance(data, dict) else None
        page_origin = None
        if isinstance(url, str) and re.match(r"https?://", url, re.IGNORECASE):
            parts = urlsplit(url)
            page_origin = f"{parts.scheme}://{parts.netloc}".lower()
        for path, text in _strings(event, ""):
            field = path.rsplit(".", 1)[-1].split("[")[0]
            if path.split(".")[0] in GENERATED or field in GENERATED:
                continue
            found = [*_contacts(path, text), *_url_problems(path, text, page_origin)]
            problems.extend(f"{label}: {line}" for line in found)
    return problems
