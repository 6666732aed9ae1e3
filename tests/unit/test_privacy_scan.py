"""The personal-data scan the suite runs on every stored event finds what it is meant to find."""

from __future__ import annotations

from typing import Any

import pytest

from tests.events import make_event
from tests.privacy_scan import personal_data_problems


def page_view(url: str, referrer: str = "") -> dict[str, Any]:
    return make_event(
        "PageView", event_data={"url": url, "referrer": referrer, "timestamp": "2024-11-30"}
    )


def test_ordinary_events_pass() -> None:
    events = [make_event(kind) for kind in ("PageView", "AddToCart", "Purchase")]
    events.append(
        page_view(
            "https://shop.example/landing/?utm_source=news&utm_medium=email&gclid=Cj0KCQ",
            "https://www.google.com/search",
        )
    )
    events.append(page_view("https://shop.example/b/", "https://shop.example/a/?utm_source=x"))
    assert personal_data_problems(events) == []


@pytest.mark.parametrize(
    ("event", "found"),
    [
        (page_view("https://shop.example/?email=ann%40example.com"), "an email address"),
        (page_view("https://shop.example/?e-mail=x"), "query parameter 'e-mail'"),
        (page_view("https://shop.example/?token=abc"), "query parameter 'token'"),
        (page_view("https://shop.example/?PASSWORD=abc"), "query parameter 'PASSWORD'"),
        (page_view("https://shop.example/?api_key=abc"), "query parameter 'api_key'"),
        (page_view("https://shop.example/", "https://mail.example/?q=offer"), "another site"),
        (page_view("https://shop.example/", "https://other.example/#s=1"), "another site"),
        (page_view("https://shop.example/call/+49%20170%201234567"), "a phone number"),
        (
            make_event(
                "AddToCart",
                event_data={"button_text": "Mail ann@example.com", "button_id": "b"},
            ),
            "an email address",
        ),
        (
            make_event(
                "AddToCart", event_data={"button_text": "Call 030 1234 5678", "button_id": "b"}
            ),
            "a phone number",
        ),
        (
            make_event(
                "PageView",
                event_data={"url": "https://shop.example/", "props": {"who": "bob@example.org"}},
            ),
            "event_data.props.who",
        ),
    ],
)
def test_personal_data_is_found(event: dict[str, Any], found: str) -> None:
    problems = personal_data_problems([event])
    assert problems
    assert any(found in line for line in problems), problems
    assert all(event["event_id"] in line for line in problems)


def test_generated_fields_are_not_read_as_contacts() -> None:
    """Session ids, epoch milliseconds and order ids are digits, not phone numbers."""
    event = make_event(
        "Purchase",
        session_id="sess_1732960800000_abc123def4",
        event_data={"value": 12, "currency": "EUR", "order_id": "4915112345678"},
    )
    assert personal_data_problems([event]) == []


def test_every_key_the_settings_refuse_is_found_by_the_scan() -> None:
    """The scan keeps its own list (a check must not share the code it checks), but every key
    ``query_params`` refuses as personal must also be one the scan flags in a sent URL."""
    from aae_tracking_plugins.core.query import PERSONAL_QUERY_KEYS

    missed = [
        key
        for key in sorted(PERSONAL_QUERY_KEYS)
        if not personal_data_problems([page_view(f"https://shop.example/?{key}=x")])
    ]
    assert missed == []
