"""One readable line per event: what the collector prints as events arrive."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["format_event_line", "summary_line"]


def _clean(value: object) -> str:
    """Text for a log line: never spans lines, control characters escaped."""
    text = value if isinstance(value, str) else json.dumps(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


_WEB_VITALS = ("lcp", "cls", "inp", "fcp", "ttfb")
_NOT_PROPS = frozenset({"url", "timestamp", "variant", "fbp", "fbc"})

_Details = Callable[[Mapping[str, Any]], list[str]]


def _url(data: Mapping[str, Any]) -> str:
    return f"url={_clean(data.get('url'))}"


def _page_view(data: Mapping[str, Any]) -> list[str]:
    parts = [_url(data)]
    if data.get("referrer"):
        parts.append(f"referrer={_clean(data['referrer'])}")
    return parts


def _add_to_cart(data: Mapping[str, Any]) -> list[str]:
    text = data.get("button_text")
    shown = ascii(text) if isinstance(text, str) and not text.isprintable() else repr(text)
    return [f"button_text={shown}", f"button_id={_clean(data.get('button_id'))}"]


def _purchase(data: Mapping[str, Any]) -> list[str]:
    return [f"{key}={_clean(data.get(key))}" for key in ("value", "currency", "order_id")]


def _engagement(data: Mapping[str, Any]) -> list[str]:
    return [
        _url(data),
        *(f"{key}={_clean(data.get(key))}" for key in ("engaged_ms", "scroll_depth")),
    ]


def _web_vitals(data: Mapping[str, Any]) -> list[str]:
    return [
        _url(data),
        *(
            f"{name}={_clean(data[name])} ({_clean(data.get(f'{name}_rating'))})"
            for name in _WEB_VITALS
            if name in data
        ),
    ]


def _custom(data: Mapping[str, Any]) -> list[str]:
    # A custom event's props are the keys besides url, timestamp, variant, fbp and fbc.
    props = (f"{key}={_clean(val)}" for key, val in data.items() if key not in _NOT_PROPS)
    return [_url(data), *props]


_DETAILS_BY_TYPE: dict[str, _Details] = {
    "PageView": _page_view,
    "AddToCart": _add_to_cart,
    "Purchase": _purchase,
    "Engagement": _engagement,
    "WebVitals": _web_vitals,
}


def _event_details(event: Mapping[str, Any]) -> str:
    """The interesting ``event_data`` fields of an event as ``key=value`` pairs."""
    data = event.get("event_data")
    if not isinstance(data, dict):
        return ""
    event_type = event.get("event_type")
    details = _DETAILS_BY_TYPE.get(event_type, _custom) if isinstance(event_type, str) else _custom
    parts = details(data)
    if "variant" in data:
        parts.append(f"variant={_clean(data['variant'])}")
    return "  ".join(parts)


def format_event_line(event: Mapping[str, Any], received_at: float | None = None) -> str:
    """One log line for an accepted event, e.g.

    ``12:00:01  PageView    lp_123 / camp_456  sess_1_abc  url=http://example.test/``

    Inputs: ``event``, a decoded event (any mapping; missing or odd fields are shown as they
    are, never raise); ``received_at``, a ``time.time()`` value in seconds, shown as local
    ``HH:MM:SS`` (now when omitted). Output: one line without a line break: control
    characters are escaped, trailing blanks removed; a null campaign is shown as ``-``.

    Details by type: PageView ``url`` (and ``referrer``), AddToCart ``button_text`` and
    ``button_id``, Purchase ``value``, ``currency``, ``order_id``, Engagement ``url``,
    ``engaged_ms``, ``scroll_depth``, WebVitals ``url`` and each metric with its rating
    (``lcp=1234 (good)``), a custom event ``url`` and its props; then ``variant`` if any.
    """
    clock = time.strftime("%H:%M:%S", time.localtime(received_at))
    campaign = event.get("campaign_id")
    return (
        f"{clock}  {_clean(event.get('event_type')):<11} "
        f"{_clean(event.get('landing_page_id'))} / "
        f"{'-' if campaign is None else _clean(campaign)}  "
        f"{_clean(event.get('session_id'))}  {_event_details(event)}"
    ).rstrip()


def summary_line(event: Mapping[str, Any]) -> str:
    """:func:`format_event_line` without the clock (for timeout messages)."""
    return format_event_line(event)[10:]
