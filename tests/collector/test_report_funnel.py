"""The funnel of :meth:`EventStore.funnel` on SQLite and on a real PostgreSQL: sessions that
skip steps, repeated events, two currencies, two variants, filters and a time range."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aae_tracking_plugins.collector.storage import EventStore, FunnelQuery, FunnelRow
from tests.collector.report_data import LATER, T0, event, expected, rows, sample


def by_group(found: list[FunnelRow]) -> dict[tuple[object, ...], dict[str, object]]:
    return {
        (row.landing_page_id, row.campaign_id, row.variant): {
            "page_views": row.page_views,
            "add_to_carts": row.add_to_carts,
            "purchases": row.purchases,
            "revenue": row.revenue,
        }
        for row in found
    }


def test_the_funnel_counts_sessions_in_step_order_and_revenue_per_currency(
    store: EventStore,
) -> None:
    store.add(rows(sample()))
    found = store.funnel(FunnelQuery())
    assert [(row.landing_page_id, row.campaign_id, row.variant) for row in found] == [
        ("lp_1", None, None), ("lp_1", "camp_x", "a"), ("lp_1", "camp_x", "b"),
        ("lp_2", "camp_y", None),
    ]  # fmt: skip
    a = found[1]
    # s1 s2 s3 s5 s10 viewed; s1 s2 s10 carted after a view (s4 never viewed); only s1 bought
    # after both (s5 skipped the cart). Revenue: every Purchase once, s1's retry not again.
    assert (a.page_views, a.add_to_carts, a.purchases) == (5, 3, 1)
    assert a.revenue == {"EUR": 15.0, "USD": 7.25}
    assert (a.cart_rate, a.purchase_rate) == (0.6, 0.2)
    assert by_group(found) == expected(sample())


def test_filters_and_the_time_range(store: EventStore) -> None:
    pairs = sample()
    store.add(rows(pairs))
    half_hour = T0 + timedelta(minutes=30)
    for only in (
        {"landing_page_id": "lp_2"},
        {"campaign_id": "camp_x"},
        {"landing_page_id": "lp_1", "campaign_id": "camp_x", "until": half_hour},
        {"since": half_hour},
        {"since": T0, "until": LATER},
        {"landing_page_id": "lp_none"},
    ):
        assert by_group(store.funnel(FunnelQuery(**only))) == expected(pairs, **only), only
    (late,) = store.funnel(FunnelQuery(since=half_hour))
    assert (late.page_views, late.add_to_carts, late.purchases, late.revenue) == (1, 1, 0, {})
    assert store.funnel(FunnelQuery(landing_page_id="lp_none")) == []


def test_a_group_without_page_views_has_zero_rates(store: EventStore) -> None:
    store.add(rows([(T0, event("Purchase", "s1", value=1, currency="EUR"))]))
    (row,) = store.funnel(FunnelQuery())
    assert (row.page_views, row.purchases, row.cart_rate, row.purchase_rate) == (0, 0, 0.0, 0.0)
    assert row.revenue == {"EUR": 1.0}


def test_a_time_bound_must_carry_a_zone_and_come_in_order() -> None:
    with pytest.raises(ValueError, match="since must carry a time zone"):
        FunnelQuery(since=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="must be before until"):
        FunnelQuery(since=LATER, until=T0)
