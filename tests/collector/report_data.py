"""Hand-made events for the funnel tests, and the funnel computed from them in plain Python
(independently of the SQL) to compare with."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from aae_tracking_plugins.collector.storage import EventRow
from tests.events import make_event

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(hours=1)


def event(
    kind: str,
    session: str,
    variant: str | None = "a",
    page: str = "lp_1",
    campaign: str | None = "camp_x",
    **data: Any,
) -> dict[str, Any]:
    made = make_event(kind, landing_page_id=page, campaign_id=campaign, session_id=session)
    if variant is not None:
        made["event_data"]["variant"] = variant
    made["event_data"].update(data)
    return made


def sample() -> list[tuple[datetime, dict[str, Any]]]:
    """(received_at, event) pairs: sessions that skip steps, repeats, two currencies, two
    variants, no campaign, a second page, and two events an hour later."""
    s1_purchase = event("Purchase", "s1", value=10, currency="EUR")
    at_t0 = [
        event("PageView", "s1"), event("AddToCart", "s1"), s1_purchase, s1_purchase,  # retried
        event("PageView", "s2"), event("PageView", "s2"), event("AddToCart", "s2"),
        event("PageView", "s3"),
        event("AddToCart", "s4"), event("Purchase", "s4", value=5, currency="EUR"),  # no view
        event("PageView", "s5"), event("Purchase", "s5", value=7.25, currency="USD"),  # no cart
        event("PageView", "s6", "b"), event("AddToCart", "s6", "b"),
        event("Purchase", "s6", "b", value=20, currency="EUR"),
        event("PageView", "s7", "b"),
        event("PageView", "s8", None, campaign=None),
        event("PageView", "s9", None, "lp_2", "camp_y"),
        event("AddToCart", "s9", None, "lp_2", "camp_y"),
        event("Purchase", "s9", None, "lp_2", "camp_y", value=3.5, currency="EUR"),
    ]  # fmt: skip
    later = [event("PageView", "s10"), event("AddToCart", "s10")]
    return [(T0, made) for made in at_t0] + [(LATER, made) for made in later]


def rows(pairs: list[tuple[datetime, dict[str, Any]]]) -> list[EventRow]:
    return [EventRow.from_event(made, received) for received, made in pairs]


def expected(
    pairs: list[tuple[datetime, dict[str, Any]]], **only: Any
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The funnel by (page, campaign, variant) computed in Python: sessions with a PageView;
    of those, with an AddToCart; of those, with a Purchase; revenue of every Purchase once."""
    seen: set[str] = set()
    kinds: dict[tuple[Any, ...], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    money: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for received, made in pairs:
        if made["event_id"] in seen or not _matches(received, made, **only):
            continue
        seen.add(made["event_id"])
        key = (made["landing_page_id"], made["campaign_id"], made["event_data"].get("variant"))
        kinds[key][made["session_id"]].add(made["event_type"])
        if made["event_type"] == "Purchase":
            money[key][made["event_data"]["currency"]] += made["event_data"]["value"]
    result = {}
    for key, sessions in kinds.items():
        views = {s for s, got in sessions.items() if "PageView" in got}
        carts = {s for s in views if "AddToCart" in sessions[s]}
        bought = {s for s in carts if "Purchase" in sessions[s]}
        result[key] = {
            "page_views": len(views),
            "add_to_carts": len(carts),
            "purchases": len(bought),
            "revenue": dict(money[key]),
        }
    return result


def _matches(received: datetime, made: dict[str, Any], **only: Any) -> bool:
    for name in ("landing_page_id", "campaign_id"):
        if only.get(name) is not None and made[name] != only[name]:
            return False
    since, until = only.get("since"), only.get("until")
    return (since is None or received >= since) and (until is None or received < until)
