"""The events API through a real uvicorn server, on SQLite and PostgreSQL: what is accepted, what
is refused and how (each bad field named), CORS and Private Network Access, the listing and who
may read it, the health check, and 503 while the database is away."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from aae_tracking_plugins.collector.intake import MAX_TEXT_CHARS
from aae_tracking_plugins.collector.storage import EventQuery
from aae_tracking_plugins.collector.wire import EVENTS_PATH, MAX_BODY_BYTES
from tests.collector_helpers import InProcessCollector, listing, post, request, running_collector
from tests.events import make_event

ORIGIN = "https://shop.example"


def stored_ids(collector: InProcessCollector) -> list[str]:
    return [s.event["event_id"] for s in collector.service.store.latest(EventQuery(limit=1000))]


# ------------------------------------------------------------------------- accepted


def test_one_event_is_stored_and_printed(stored_collector: InProcessCollector) -> None:
    event = make_event("Purchase")
    answer = post(stored_collector.url, event)
    assert (answer.status, answer.json()) == (200, {"accepted": 1, "duplicates": 0})
    assert answer.headers["cache-control"] == "no-store"
    assert stored_ids(stored_collector) == [event["event_id"]]
    (line,) = stored_collector.lines
    assert "Purchase" in line
    assert "value=49.99  currency=EUR  order_id=ORD-1001" in line


def test_a_batch_is_stored_and_resent_events_are_duplicates(
    stored_collector: InProcessCollector,
) -> None:
    first, second = make_event("PageView"), make_event("AddToCart")
    assert post(stored_collector.url, {"events": [first]}).json() == {
        "accepted": 1,
        "duplicates": 0,
    }
    again = post(stored_collector.url, {"events": [first, second, second]})
    assert again.json() == {"accepted": 1, "duplicates": 2}
    assert sorted(stored_ids(stored_collector)) == sorted([first["event_id"], second["event_id"]])
    assert [line.endswith("(duplicate, not stored)") for line in stored_collector.lines] == [
        False, True, False, True,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain;charset=UTF-8",
        "text/plain",
        "application/json",
        "Application/JSON; charset=utf-8",
    ],
)
def test_the_content_types_the_tracker_and_others_send(
    stored_collector: InProcessCollector, content_type: str
) -> None:
    answer = post(stored_collector.url, make_event("PageView"), content_type=content_type)
    assert answer.status == 200


def test_a_byte_order_mark_and_a_chunked_body_are_accepted(
    stored_collector: InProcessCollector,
) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(make_event("PageView")).encode()
    assert request(stored_collector.url, "POST", body=body).status == 200
    chunked = iter([json.dumps(make_event("PageView")).encode()])
    answer = request(stored_collector.url, "POST", body=chunked)  # no length: chunked
    assert answer.status == 200
    assert len(stored_ids(stored_collector)) == 2


# ------------------------------------------------------------------------- refused


def refused(
    collector: InProcessCollector, body: bytes | str, **options: object
) -> dict[str, object]:
    answer = request(collector.url, "POST", body=body, **options)  # type: ignore[arg-type]
    assert 400 <= answer.status < 500, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.body.isascii()
    reply: dict[str, object] = answer.json()
    reply["status"] = answer.status
    return reply


def test_each_bad_field_is_named_and_nothing_is_stored(
    stored_collector: InProcessCollector,
) -> None:
    bad = make_event("Purchase", session_id="nope", extra=1)
    bad["event_data"]["currency"] = "usd"
    del bad["user_agent"]
    reply = refused(stored_collector, json.dumps({"events": [make_event("PageView"), bad]}))
    assert reply["status"] == 422
    assert reply["error"] == "invalid event"
    fields = [problem["field"] for problem in reply["errors"]]  # type: ignore[attr-defined]
    assert sorted(fields) == sorted(
        ["events[1].user_agent", "events[1].session_id", "events[1].extra",
         "events[1].event_data.currency"]
    )  # fmt: skip
    for problem in reply["errors"]:  # type: ignore[attr-defined]
        assert problem["message"].startswith(problem["field"] + " ")
    assert stored_ids(stored_collector) == []  # a batch is refused whole
    assert stored_collector.lines[-1].endswith(
        f"refused 422 invalid event: {reply['errors'][0]['message']}"
    )  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xc0\x80", "body is not UTF-8: invalid start byte at byte 0"),  # over-long NUL
        (b'{"a": "\xed\xa0\x80"}', "body is not UTF-8"),  # an encoded surrogate (CESU-8)
        (b'{"a": "\xff"}', "body is not UTF-8"),
        (b"", "invalid JSON: Expecting value"),
        (b"{} {}", "invalid JSON: Extra data"),
        (b'{"value": NaN}', "invalid JSON: NaN is not JSON"),
        (b'{"value": 1e400}', "invalid JSON: number 1e400 is out of range"),
        (b'{"a": 1, "b": {"c": 1, "c": 2}}', "invalid JSON: repeated key 'c' in an object"),
        (b"[" * 100_00 + b"]" * 100_00, "invalid JSON: nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", "invalid JSON: Exceeds the limit"),
    ],
)
def test_bodies_that_are_not_json_text_are_400(
    stored_collector: InProcessCollector, body: bytes, error: str
) -> None:
    reply = refused(stored_collector, body)
    assert reply["status"] == 400
    assert str(reply["error"]).startswith(error)


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"user_agent": "Mozilla \ud800"}, "user_agent", "an unpaired surrogate (\\ud800)"),
        ({"user_agent": "a\u0000b"}, "user_agent", "a NUL character (U+0000)"),
        ({"user_agent": "x" * (MAX_TEXT_CHARS + 1)}, "user_agent", "longer than 8192 characters"),
        ({"event_data": {"\udfff": 1}}, "event_data.\\udfff (key)", "an unpaired surrogate"),
    ],
)
def test_text_that_cannot_be_stored_is_400_naming_the_field(
    stored_collector: InProcessCollector, change: dict[str, object], field: str, why: str
) -> None:
    body = json.dumps({"events": [make_event("PageView", **change)]})  # escapes: \ud800, \u0000
    reply = refused(stored_collector, body)
    assert (reply["status"], reply["error"]) == (400, "ill-formed text")
    (problem,) = reply["errors"]  # type: ignore[misc]
    assert problem["field"] == f"events[0].{field}"
    assert why in problem["message"]


def test_a_body_over_64_kib_is_413_before_it_is_read(stored_collector: InProcessCollector) -> None:
    reply = refused(stored_collector, b"x" * (MAX_BODY_BYTES + 1))
    assert reply["status"] == 413
    big_batch = json.dumps({"events": [make_event("PageView", user_agent="u" * 8000)] * 9})
    assert len(big_batch) > MAX_BODY_BYTES
    chunked = iter([big_batch.encode()])
    answer = request(stored_collector.url, "POST", body=chunked)  # no length: chunked
    assert answer.status == 413
    assert stored_ids(stored_collector) == []


@pytest.mark.parametrize(
    "content_type",
    [None, "text/html", "application/x-www-form-urlencoded", "text/plain;charset=latin-1"],
)
def test_other_content_types_are_415(
    stored_collector: InProcessCollector, content_type: str | None
) -> None:
    body = json.dumps(make_event("PageView"))
    reply = refused(stored_collector, body, content_type=content_type)
    assert reply["status"] == 415
    assert stored_ids(stored_collector) == []


# ------------------------------------------------------------------------- CORS


@pytest.fixture
def shop_collector(tmp_path: Path) -> InProcessCollector:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}", allowed_origins=(ORIGIN,)) as running:
        yield running  # type: ignore[misc]


def test_an_allowed_origin_is_echoed_with_credentials(shop_collector: InProcessCollector) -> None:
    answer = post(shop_collector.url, make_event("PageView"), headers={"Origin": ORIGIN})
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-expose-headers"] == "Retry-After"
    assert answer.headers["vary"] == "Origin"


def test_other_origins_are_refused_and_nothing_is_stored(
    shop_collector: InProcessCollector,
) -> None:
    for origin in ("https://evil.example", "http://shop.example", "null", "http://127.0.0.1:8000"):
        answer = post(shop_collector.url, make_event("PageView"), headers={"Origin": origin})
        assert answer.status == 403, origin
        assert "access-control-allow-origin" not in answer.headers
    assert stored_ids(shop_collector) == []


def test_a_preflight_and_private_network_access(shop_collector: InProcessCollector) -> None:
    asks = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    plain = request(shop_collector.url, "OPTIONS", headers=asks)
    assert plain.status == 204
    assert plain.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in plain.headers["access-control-allow-methods"]
    assert "Content-Type" in plain.headers["access-control-allow-headers"]
    assert "access-control-allow-private-network" not in plain.headers
    private = request(
        shop_collector.url,
        "OPTIONS",
        headers={**asks, "Access-Control-Request-Private-Network": "true"},
    )
    assert private.headers["access-control-allow-private-network"] == "true"
    other = request(
        shop_collector.url, "OPTIONS", headers={**asks, "Origin": "https://evil.example"}
    )
    assert other.status == 403
    assert "access-control-allow-origin" not in other.headers


def test_without_configured_origins_loopback_pages_may_send(
    stored_collector: InProcessCollector,
) -> None:
    for origin in ("http://127.0.0.1:8000", "http://localhost:3000", "https://[::1]"):
        assert post(stored_collector.url, make_event(), headers={"Origin": origin}).status == 200
    assert post(stored_collector.url, make_event(), headers={"Origin": ORIGIN}).status == 403


# ------------------------------------------------------------------------- reads


def test_the_listing_is_newest_first_filtered_and_limited(
    stored_collector: InProcessCollector,
) -> None:
    events = [
        make_event("PageView", landing_page_id="lp_a"),
        make_event("Purchase", landing_page_id="lp_a", campaign_id=None),
        make_event("PageView", landing_page_id="lp_b"),
    ]
    for event in events:
        post(stored_collector.url, event)
    listed = listing(stored_collector.url)
    assert listed.status == 200
    assert [item["event"] for item in listed.json()] == events[::-1]
    assert all(item["received_at"].endswith("Z") for item in listed.json())
    assert [i["event"]["event_id"] for i in listing(stored_collector.url, "?limit=1").json()] == [
        events[2]["event_id"]
    ]
    only = listing(stored_collector.url, "?landing_page_id=lp_a&event_type=PageView").json()
    assert [item["event"] for item in only] == [events[0]]


@pytest.mark.parametrize(
    ("query", "field"),
    [("?limit=0", "limit"), ("?limit=1001", "limit"), ("?limit=x", "limit"),
     ("?landing_page_id=%00", "landing_page_id"), ("?event_type=no%20such", "event_type"),
     ("?campaign_id=" + "c" * 65, "campaign_id")],
)  # fmt: skip
def test_a_bad_listing_query_is_422_naming_it(
    stored_collector: InProcessCollector, query: str, field: str
) -> None:
    answer = listing(stored_collector.url, query)
    assert answer.status == 422
    assert [problem["field"] for problem in answer.json()["errors"]] == [field]


def test_with_a_read_token_reads_need_it_even_on_loopback(tmp_path: Path) -> None:
    with running_collector(f"sqlite:///{tmp_path / 'e.db'}", read_token="s3cret") as collector:
        assert listing(collector.url).status == 401
        assert listing(collector.url, headers={"Authorization": "Bearer wrong"}).status == 401
        assert listing(collector.url, headers={"Authorization": "Bearer s3cret"}).status == 200
        assert post(collector.url, make_event()).status == 200  # writes stay open


def test_healthz_says_which_database_answers(stored_collector: InProcessCollector) -> None:
    answer = request(stored_collector.url, "GET", "/healthz")
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "database": stored_collector.service.store.dialect}


def test_unknown_paths_and_methods(stored_collector: InProcessCollector) -> None:
    assert request(stored_collector.url, "GET", "/nope").status == 404
    # A 405 lists every method of the path (RFC 9110, 15.5.6), not only the first route's.
    for method in ("PUT", "DELETE", "PATCH"):
        answer = request(stored_collector.url, method, EVENTS_PATH, body=b"{}")
        assert (answer.status, answer.headers["allow"]) == (405, "GET, OPTIONS, POST")
        assert json.loads(answer.body) == {"detail": "Method Not Allowed"}
    for path in ("/healthz", "/", "/dashboard/panels"):
        answer = request(stored_collector.url, "POST", path, body=b"{}")
        assert (answer.status, answer.headers["allow"]) == (405, "GET")


# ------------------------------------------------------------------------- database away


def test_a_locked_sqlite_database_answers_503_and_keeps_nothing_half(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    options = {"store_options": {"busy_timeout": 0.2}, "retry_after": 7}
    with running_collector(f"sqlite:///{path}", **options) as collector:
        event = make_event("Purchase")
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        answer = post(collector.url, event)
        assert (answer.status, answer.headers["retry-after"]) == (503, "7")
        assert request(collector.url, "GET", "/healthz").status == 503
        blocker.execute("ROLLBACK")
        blocker.close()
        assert post(collector.url, event).json() == {"accepted": 1, "duplicates": 0}
        assert request(collector.url, "GET", "/healthz").status == 200
        warnings = [line for line in collector.lines if line.startswith("collector: database")]
        assert len(warnings) == 2
        assert "unavailable, answering 503" in warnings[0]
        assert "answers again" in warnings[1]


def test_the_router_mounts_in_another_fastapi_app(database_url: str) -> None:
    """What the Web Platform does: its own app, our router and service included."""
    from fastapi import FastAPI

    from aae_tracking_plugins.collector.api import events_router
    from aae_tracking_plugins.collector.server import CollectorServer
    from aae_tracking_plugins.collector.service import CollectorConfig, EventService
    from aae_tracking_plugins.collector.storage import open_store

    platform = FastAPI()

    @platform.get("/api/v1/own")
    def own() -> dict[str, str]:
        return {"own": "route"}

    with open_store(database_url) as store:
        platform.include_router(events_router(EventService(store, CollectorConfig())))
        with CollectorServer(platform) as server:
            event = make_event("Purchase")
            assert post(server.url, event).json() == {"accepted": 1, "duplicates": 0}
            assert request(server.url, "GET", "/api/v1/own").json() == {"own": "route"}
            assert [item["event"] for item in listing(server.url).json()] == [event]
            schema = platform.openapi()["paths"][EVENTS_PATH]["post"]["requestBody"]
            assert schema["content"]["text/plain"]["schema"]["$id"] == (
                "urn:aae-tracking-plugins:schema:events"
            )


def test_postgresql_away_answers_503_and_the_retried_events_are_stored_once() -> None:
    """The tracker keeps an event answered 503 and sends it again later: nothing is lost."""
    from tests.postgres_cluster import PostgresCluster

    with PostgresCluster() as cluster:  # this test's own server: it stops it
        url = cluster.new_database()
        options = {"store_options": {"pool_timeout": 1.0}}
        with running_collector(url, **options) as collector:
            before, during = make_event("PageView"), make_event("Purchase")
            assert post(collector.url, before).status == 200
            cluster.stop()
            answer = post(collector.url, {"events": [during, before]})
            assert (answer.status, answer.headers["retry-after"]) == (503, "5")
            assert request(collector.url, "GET", "/healthz").status == 503
            cluster.start()
            for _ in range(100):  # the pool reconnects within a few seconds
                answer = post(collector.url, {"events": [during, before]})
                if answer.status == 200:
                    break
                time.sleep(0.1)
            assert answer.json() == {"accepted": 1, "duplicates": 1}
            assert sorted(stored_ids(collector)) == sorted([before["event_id"], during["event_id"]])
            warnings = [line for line in collector.lines if line.startswith("collector: database")]
            assert [("unavailable" in w, "answers again" in w) for w in warnings] == [
                (True, False), (False, True),
            ]  # fmt: skip
