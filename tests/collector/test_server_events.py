"""Server-sent events through a real collector, on SQLite and PostgreSQL: the write token marks
them, a wrong or unexpected token is refused with a JSON error, the origin is stored and listed,
de-duplication with the browser's copy keeps the first, and a server-sent Purchase completes a
browser session's funnel."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aae_tracking_plugins.collector.service import CollectorConfig
from aae_tracking_plugins.collector.storage import EventQuery, FunnelQuery, FunnelRow
from tests.collector.test_report_command import run
from tests.collector_helpers import InProcessCollector, listing, post, running_collector
from tests.events import make_event

TOKEN = "s3cret-write-token"
SERVER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def collector(database_url: str) -> Iterator[InProcessCollector]:
    with running_collector(database_url, write_token=TOKEN) as running:
        yield running


def origins(collector: InProcessCollector) -> dict[str, str]:
    found = collector.service.store.latest(EventQuery(limit=1000))
    return {item.event["event_id"]: item.origin for item in found}


def steps(row: FunnelRow) -> tuple[object, ...]:
    return (row.page_views, row.add_to_carts, row.purchases, row.revenue)


def test_the_write_token_marks_events_server_sent_and_the_listing_shows_it(
    collector: InProcessCollector,
) -> None:
    browser, server = make_event("PageView"), make_event("Purchase")
    assert post(collector.url, browser).json() == {"accepted": 1, "duplicates": 0}
    assert post(collector.url, {"events": [server]}, headers=SERVER).status == 200
    assert origins(collector) == {browser["event_id"]: "browser", server["event_id"]: "server"}
    listed = {item["event"]["event_id"]: item["origin"] for item in listing(collector.url).json()}
    assert listed == {browser["event_id"]: "browser", server["event_id"]: "server"}
    assert collector.lines[-1].endswith("(server-sent)")
    assert not collector.lines[0].endswith("(server-sent)")


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ", f"Bearer {TOKEN[:-1]}"],
)
def test_a_wrong_token_is_refused_401_and_nothing_is_stored(
    collector: InProcessCollector, authorization: str
) -> None:
    answer = post(collector.url, make_event("Purchase"), headers={"Authorization": authorization})
    assert answer.status == 401
    assert answer.json() == {
        "error": "wrong write token: send Authorization: Bearer <AAE_COLLECTOR_WRITE_TOKEN>",
        "errors": [],
    }
    assert origins(collector) == {}
    assert TOKEN not in "".join(collector.lines)


def test_without_a_configured_write_token_server_events_are_refused_403(
    database_url: str,
) -> None:
    with running_collector(database_url) as collector:
        answer = post(collector.url, make_event("Purchase"), headers=SERVER)
        assert answer.status == 403
        assert "AAE_COLLECTOR_WRITE_TOKEN" in answer.json()["error"]
        assert origins(collector) == {}
        # Browsers are not concerned.
        assert post(collector.url, make_event("PageView")).status == 200


def test_the_write_endpoint_stays_open_to_browsers(collector: InProcessCollector) -> None:
    event = make_event("AddToCart")
    answer = post(collector.url, event, headers={"Origin": "http://localhost:8000"})
    assert answer.status == 200
    assert origins(collector) == {event["event_id"]: "browser"}


def test_a_server_copy_after_the_browser_copy_is_a_duplicate_and_the_first_is_kept(
    collector: InProcessCollector,
) -> None:
    purchase = make_event("Purchase")
    assert post(collector.url, purchase).json() == {"accepted": 1, "duplicates": 0}
    assert post(collector.url, purchase, headers=SERVER).json() == {"accepted": 0, "duplicates": 1}
    later = make_event("Purchase")
    assert post(collector.url, later, headers=SERVER).json()["accepted"] == 1
    assert post(collector.url, later).json() == {"accepted": 0, "duplicates": 1}
    assert origins(collector) == {purchase["event_id"]: "browser", later["event_id"]: "server"}


def test_a_server_sent_purchase_completes_a_browser_sessions_funnel(
    collector: InProcessCollector, database_url: str
) -> None:
    session = "sess_1732960800000_checkout1"
    for kind in ("PageView", "AddToCart"):
        assert post(collector.url, make_event(kind, session_id=session)).status == 200
    before = collector.service.store.funnel(FunnelQuery())
    assert [steps(row) for row in before] == [(1, 1, 0, {})]
    purchase = make_event("Purchase", session_id=session)
    assert post(collector.url, purchase, headers=SERVER).status == 200
    assert [steps(row) for row in collector.service.store.funnel(FunnelQuery())] == [
        (1, 1, 1, {"EUR": 49.99})
    ]
    # The report a user runs says the same.
    result = run("--database", database_url, "--format", "json")
    assert result.returncode == 0, result.stderr
    (reported,) = json.loads(result.stdout)
    assert (reported["page_views"], reported["add_to_carts"], reported["purchases"]) == (1, 1, 1)
    assert reported["revenue"] == {"EUR": 49.99}


def test_the_write_token_comes_from_the_environment() -> None:
    config = CollectorConfig.from_environment({"AAE_COLLECTOR_WRITE_TOKEN": TOKEN})
    assert config.write_token == TOKEN
    assert TOKEN not in repr(config)
    assert CollectorConfig.from_environment({}).write_token is None
    with pytest.raises(ValueError, match="AAE_COLLECTOR_WRITE_TOKEN is set but empty"):
        CollectorConfig.from_environment({"AAE_COLLECTOR_WRITE_TOKEN": " "})
