"""Valid collector events for the tests: one of each built-in type, with a fresh ``event_id``."""

from __future__ import annotations

import uuid
from typing import Any

TS = "2024-11-30T10:00:00.000Z"


def make_event(kind: str = "PageView", /, **overrides: Any) -> dict[str, Any]:
    """A valid event of type ``kind`` with a fresh random ``event_id``; ``overrides``
    replace (or add) top-level keys."""
    data_by_type: dict[str, dict[str, Any]] = {
        "PageView": {"url": "https://shop.example/landing/", "referrer": "", "timestamp": TS},
        "AddToCart": {"button_text": "Add to cart", "button_id": "buy-now", "timestamp": TS},
        "Purchase": {"value": 49.99, "currency": "EUR", "order_id": "ORD-1001", "timestamp": TS},
    }
    event_data = data_by_type[kind]
    event: dict[str, Any] = {
        "event_type": kind,
        "event_id": str(uuid.uuid4()),
        "landing_page_id": "lp_123",
        "campaign_id": "camp_456",
        "session_id": "sess_1732960800000_abc123def4",
        "event_data": event_data,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "screen_resolution": "1920x1080",
        "timestamp": TS,
    }
    event.update(overrides)
    return event
