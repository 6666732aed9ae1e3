"""The local event collector, over real HTTP against a running server."""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aae_tracking_plugins.collector import (
    EVENTS_PATH,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    EventCollector,
    format_event_line,
    validate_event,
    validate_payload,
)
from tests.events import TS, make_event
from tests.sites import ROOT

if TYPE_CHECKING:
    from tests.conftest import BrowserPage

BEACON_TYPE = "text/plain;charset=UTF-8"
ORIGIN = "http://127.0.0.1:8000"


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    method: str = "POST",
    content_type: str | None = BEACON_TYPE,
    headers: dict[str, str] | None = None,
) -> Reply:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if content_type is not None and data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())


def post_event(collector: EventCollector, event: dict[str, Any], **kwargs: Any) -> Reply:
    return request(collector.events_url, event, **kwargs)


# --------------------------------------------------------------------------- validate_event


@pytest.mark.parametrize("event_type", ["PageView", "AddToCart", "Purchase"])
def test_validate_event_accepts_valid_events(event_type: str) -> None:
    assert validate_event(make_event(event_type)) == []


@pytest.mark.parametrize(
    "event",
    [
        make_event(campaign_id=None),
        make_event("AddToCart", event_data={"button_text": "", "button_id": None, "timestamp": TS}),
        make_event(
            "Purchase",
            event_data={"value": 0, "currency": "USD", "order_id": None, "timestamp": TS},
        ),
        make_event(
            event_data={
                "url": "http://localhost:8000/a?b=c#d",
                "referrer": "https://www.google.com/",
                "timestamp": "2024-11-30T10:00:00+00:00",
            }
        ),
        make_event(landing_page_id="A" * 64, campaign_id="x.y:z-1_2"),
        make_event(timestamp="2024-11-30T10:00:00Z"),
        make_event("Purchase", event_id="purchase:lp_123:ORD-1001"),
        make_event(event_id="e" * 256),
        make_event(event_id="x"),
        make_event(event_id="Grüße / 注文 #1 😀"),
    ],
    ids=[
        "null-campaign",
        "null-button-id",
        "zero-value",
        "url-variants",
        "id-chars",
        "no-millis",
        "purchase-event-id",
        "longest-event-id",
        "shortest-event-id",
        "unicode-event-id",
    ],
)
def test_validate_event_accepts_edge_cases(event: dict[str, Any]) -> None:
    assert validate_event(event) == []


def _with_data(event_type: str, **changes: Any) -> dict[str, Any]:
    event = make_event(event_type)
    event["event_data"].update(changes)
    return event


def _without(event: dict[str, Any], key: str, data: bool = False) -> dict[str, Any]:
    event = copy.deepcopy(event)
    del (event["event_data"] if data else event)[key]
    return event


_CHARS = "characters without control characters"
INVALID_EVENTS: list[tuple[str, Any, str]] = [
    ("not-an-object", [make_event()], "event must be a JSON object"),
    ("missing-top-key", _without(make_event(), "session_id"), "session_id is required"),
    ("missing-campaign", _without(make_event(), "campaign_id"), "campaign_id is required"),
    ("missing-event-id", _without(make_event(), "event_id"), "event_id is required (missing)"),
    ("unknown-top-key", make_event(extra=1), "extra is not allowed"),
    # any other name is a custom event; only names outside the custom pattern are refused
    ("bad-event-type", make_event(event_type="Add to cart"), "event_type must be one of"),
    ("empty-event-type", make_event(event_type=""), "event_type must be one of"),
    ("numeric-event-type", make_event(event_type=3), "event_type must be a string"),
    ("empty-event-id", make_event(event_id=""), f"event_id must be a string of 1-256 {_CHARS}"),
    (
        "long-event-id",
        make_event(event_id="e" * 257),
        f"event_id must be a string of 1-256 {_CHARS}",
    ),
    ("numeric-event-id", make_event(event_id=7), "event_id must be a string, got 7"),
    ("null-event-id", make_event(event_id=None), "event_id must be a string, got None"),
    ("newline-end-event-id", make_event(event_id="ab\n"), "event_id must be a string of 1-256"),
    ("newline-event-id", make_event(event_id="a\nb"), "event_id must be a string of 1-256"),
    ("del-event-id", make_event(event_id="a\x7f"), "event_id must be a string of 1-256"),
    ("c1-event-id", make_event(event_id="a\x85"), "event_id must be a string of 1-256"),
    ("surrogate-event-id", make_event(event_id="a\ud800"), "event_id must be a string of 1-256"),
    # a standard name in another case is a custom event, checked as one (it needs a url)
    (
        "event-type-wrong-case",
        make_event("AddToCart", event_type="addtocart"),
        "event_data.url is required (missing)",
    ),
    ("bad-landing-page-id", make_event(landing_page_id="lp 123"), "landing_page_id must match"),
    ("empty-landing-page-id", make_event(landing_page_id=""), "landing_page_id must match"),
    ("long-landing-page-id", make_event(landing_page_id="a" * 65), "landing_page_id must match"),
    ("null-landing-page-id", make_event(landing_page_id=None), "landing_page_id must be a string"),
    ("numeric-campaign-id", make_event(campaign_id=456), "campaign_id must be a string or null"),
    ("bad-campaign-id", make_event(campaign_id="-camp"), "campaign_id must match"),
    ("bad-session-id", make_event(session_id="session_1_abc"), "session_id must be like"),
    ("upper-session-id", make_event(session_id="sess_1_ABC"), "session_id must be like"),
    ("bad-resolution", make_event(screen_resolution="1920*1080"), "screen_resolution must be"),
    ("numeric-user-agent", make_event(user_agent=5), "user_agent must be a string"),
    ("bad-timestamp", make_event(timestamp="yesterday"), "timestamp must be an ISO-8601"),
    ("epoch-timestamp", make_event(timestamp=1732960800000), "timestamp must be a string"),
    ("no-date", make_event(timestamp="2024-02-30T10:00:00Z"), "timestamp must be an ISO-8601"),
    ("trailing-newline", make_event(landing_page_id="lp_1\n"), "landing_page_id must match"),
    ("local-timestamp", make_event(timestamp="2024-11-30T10:00:00"), "timestamp must be in UTC"),
    (
        "offset-timestamp",
        make_event(timestamp="2024-11-30T10:00:00+01:00"),
        "timestamp must be in UTC",
    ),
    ("event-data-not-object", make_event(event_data="x"), "event_data must be a JSON object"),
    (
        "missing-data-key",
        _without(make_event(), "referrer", data=True),
        "event_data.referrer is required",
    ),
    (
        "unknown-data-key",
        _with_data("PageView", button_text="x"),
        "event_data.button_text is not allowed",
    ),
    ("relative-url", _with_data("PageView", url="/landing/"), "event_data.url must be an http(s)"),
    (
        "javascript-url",
        _with_data("PageView", url="javascript:alert(1)"),
        "event_data.url must be an http(s)",
    ),
    ("null-referrer", _with_data("PageView", referrer=None), "event_data.referrer must be a"),
    (
        "data-timestamp",
        _with_data("PageView", timestamp="30/11/2024"),
        "event_data.timestamp must be an ISO-8601",
    ),
    ("null-button-text", _with_data("AddToCart", button_text=None), "event_data.button_text"),
    ("numeric-button-id", _with_data("AddToCart", button_id=7), "event_data.button_id"),
    ("string-value", _with_data("Purchase", value="49.99"), "event_data.value must be a number"),
    ("bool-value", _with_data("Purchase", value=True), "event_data.value must be a number"),
    ("negative-value", _with_data("Purchase", value=-1), "event_data.value must be >= 0"),
    (
        "lower-currency",
        _with_data("Purchase", currency="usd"),
        "event_data.currency must be 3 uppercase letters, got 'usd'",
    ),
    ("long-currency", _with_data("Purchase", currency="EURO"), "event_data.currency must be 3"),
    ("numeric-order-id", _with_data("Purchase", order_id=1001), "event_data.order_id"),
]


@pytest.mark.parametrize(
    ("event", "expected"),
    [pytest.param(event, expected, id=name) for name, event, expected in INVALID_EVENTS],
)
def test_invalid_event_is_refused_with_422_naming_the_field(
    collector: EventCollector, event: Any, expected: str
) -> None:
    problems = validate_event(event)
    assert any(expected in p for p in problems), problems

    reply = request(collector.events_url, json.dumps(event).encode())
    assert reply.status == 422
    assert reply.headers.get_content_type() == "application/json"
    errors = reply.json()["errors"]
    assert errors == problems
    assert collector.events == []
    assert collector.rejected == [(422, "; ".join(problems))]


def test_validate_event_reports_every_problem() -> None:
    event = make_event("Purchase", session_id="nope", extra=True)
    event["event_data"].update(currency="usd", value=-5)
    problems = validate_event(event)
    assert len(problems) == 4, problems
    for field in ("extra", "session_id", "event_data.value", "event_data.currency"):
        assert any(p.startswith(field) for p in problems), (field, problems)


def test_validate_event_rejects_non_finite_value() -> None:
    event = _with_data("Purchase", value=float("inf"))
    assert validate_event(event) == ["event_data.value must be a finite number, got inf"]


# --------------------------------------------------------------------------- POST


@pytest.mark.parametrize("event_type", ["PageView", "AddToCart", "Purchase"])
@pytest.mark.parametrize(
    "content_type",
    [BEACON_TYPE, "text/plain", "application/json", "application/json; charset=utf-8"],
)
def test_valid_event_is_accepted_and_stored(
    collector: EventCollector, event_type: str, content_type: str
) -> None:
    event = make_event(event_type)
    reply = post_event(collector, event, content_type=content_type)
    assert reply.status == 200
    assert reply.json() == {"accepted": 1, "duplicates": 0}
    assert collector.events == [event]
    assert collector.rejected == []


def test_events_returns_a_copy(collector: EventCollector) -> None:
    post_event(collector, make_event())
    collector.events[0]["landing_page_id"] = "changed"
    collector.events.clear()
    assert collector.events[0]["landing_page_id"] == "lp_123"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b'{"value": NaN}', b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000],
    ids=["empty", "truncated", "text", "nan", "not-utf8", "deeply-nested"],
)
def test_bad_json_is_400(collector: EventCollector, body: bytes) -> None:
    reply = request(collector.events_url, body)
    assert reply.status == 400
    assert "invalid JSON" in reply.json()["error"]
    assert collector.events == []
    assert collector.rejected[0][0] == 400


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/html", None])
def test_other_content_types_are_415(collector: EventCollector, content_type: str | None) -> None:
    reply = post_event(collector, make_event(), content_type=content_type)
    assert reply.status == 415
    assert collector.events == []


def test_non_utf8_charset_is_415(collector: EventCollector) -> None:
    reply = post_event(collector, make_event(), content_type="text/plain; charset=iso-8859-1")
    assert reply.status == 415


def test_oversize_body_is_413(collector: EventCollector) -> None:
    body = json.dumps(make_event()).encode() + b" " * MAX_BODY_BYTES
    reply = request(collector.events_url, body, headers={"Origin": ORIGIN})
    assert reply.status == 413
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert collector.events == []
    assert collector.rejected[0][0] == 413
    # the server keeps working
    assert post_event(collector, make_event()).status == 200


def test_body_of_exactly_the_limit_is_accepted(collector: EventCollector) -> None:
    compact = json.dumps(make_event()).encode()
    body = compact + b" " * (MAX_BODY_BYTES - len(compact))
    assert len(body) == MAX_BODY_BYTES
    assert request(collector.events_url, body).status == 200


def test_content_length_is_checked_before_reading(collector: EventCollector) -> None:
    """A huge declared length is refused at once, without waiting for the body."""
    host, port = "127.0.0.1", collector.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: {BEACON_TYPE}\r\nContent-Length: 1000000000\r\n\r\n{{"
            ).encode()
        )
        started = time.monotonic()
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert time.monotonic() - started < 2


def test_keep_alive_connection_serves_several_events(collector: EventCollector) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=5)
    try:
        for event_type in ("PageView", "AddToCart", "Purchase"):
            body = json.dumps(make_event(event_type))
            conn.request("POST", EVENTS_PATH, body, {"Content-Type": BEACON_TYPE})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        conn.close()
    assert [e["event_type"] for e in collector.events] == ["PageView", "AddToCart", "Purchase"]


def test_concurrent_posts_are_all_stored(collector: EventCollector) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        status = post_event(collector, make_event(landing_page_id=f"lp_{i}")).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 25
    ids = {e["landing_page_id"] for e in collector.wait_for_count(25, timeout=5)}
    assert ids == {f"lp_{i}" for i in range(25)}


def test_query_string_is_ignored(collector: EventCollector) -> None:
    reply = request(collector.events_url + "?v=1", make_event())
    assert reply.status == 200


# --------------------------------------------------------------------------- CORS


@pytest.mark.parametrize("private_network", [False, True])
def test_preflight(collector: EventCollector, private_network: bool) -> None:
    headers = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    if private_network:
        headers["Access-Control-Request-Private-Network"] = "true"
    reply = request(collector.events_url, method="OPTIONS", headers=headers)
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert reply.headers["Vary"] == "Origin"
    assert reply.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert reply.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert reply.headers["Access-Control-Max-Age"] == "86400"
    pna = reply.headers.get("Access-Control-Allow-Private-Network")
    assert pna == ("true" if private_network else None)
    assert collector.events == []


@pytest.mark.parametrize("origin", [ORIGIN, "https://landing.example.com", "null"])
def test_post_echoes_the_origin(collector: EventCollector, origin: str) -> None:
    reply = post_event(collector, make_event(), headers={"Origin": origin})
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"
    assert reply.headers["Vary"] == "Origin"


def test_error_responses_carry_cors_headers(collector: EventCollector) -> None:
    reply = post_event(collector, make_event(user_agent=None), headers={"Origin": ORIGIN})
    assert reply.status == 422
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert reply.headers["Access-Control-Allow-Credentials"] == "true"


def test_no_cors_headers_without_origin(collector: EventCollector) -> None:
    reply = post_event(collector, make_event())
    assert reply.status == 200
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert "Access-Control-Allow-Credentials" not in reply.headers


# --------------------------------------------------------------------------- other routes


def test_get_lists_accepted_events(collector: EventCollector) -> None:
    assert request(collector.events_url, method="GET").json() == []
    first, second = make_event(), make_event("Purchase")
    post_event(collector, first)
    post_event(collector, make_event(event_type="No pe"))
    post_event(collector, second)
    reply = request(collector.events_url, method="GET", headers={"Origin": ORIGIN})
    assert reply.status == 200
    assert reply.headers.get_content_type() == "application/json"
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert reply.json() == [first, second]


def test_healthz(collector: EventCollector) -> None:
    reply = request(collector.url + "/healthz", method="GET")
    assert (reply.status, reply.body) == (200, b"ok")


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS", "PUT"])
def test_unknown_path_is_404(collector: EventCollector, method: str) -> None:
    body = b"{}" if method in ("POST", "PUT") else None
    reply = request(collector.url + "/api/v1/other", body, method=method)
    assert reply.status == 404


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "FOO"])
def test_other_methods_are_405(collector: EventCollector, method: str) -> None:
    reply = request(collector.events_url, json.dumps(make_event()).encode(), method=method)
    assert reply.status == 405
    assert "POST" in reply.headers["Allow"]
    assert collector.events == []


def test_post_to_healthz_is_405(collector: EventCollector) -> None:
    assert request(collector.url + "/healthz", b"x").status == 405


# --------------------------------------------------------------------------- collector API


def test_urls(collector: EventCollector) -> None:
    assert collector.url == f"http://127.0.0.1:{collector.port}"
    assert collector.port > 0
    assert collector.events_url == collector.url + "/api/v1/landing-pages/events"


def test_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError):
        _ = EventCollector().url
    assert EventCollector(port=8765).url == "http://127.0.0.1:8765"


def test_stop_is_idempotent_and_frees_the_port() -> None:
    collector = EventCollector().start()
    port = collector.port
    collector.stop()
    collector.stop()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_fail_with_refuses_and_stores_nothing() -> None:
    with EventCollector(fail_with=503) as collector:
        reply = post_event(collector, make_event(), headers={"Origin": ORIGIN})
        assert reply.status == 503
        assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert collector.events == []
        assert collector.rejected == [(503, "collector configured to fail with 503")]
        # also for bodies that would otherwise be refused differently
        assert request(collector.events_url, b"{").status == 503
        assert request(collector.url + "/healthz", method="GET").status == 200


def test_fail_with_must_be_a_status() -> None:
    for status in (42, 204, 600):
        with pytest.raises(ValueError, match="fail_with"):
            EventCollector(fail_with=status)


def test_clear(collector: EventCollector) -> None:
    post_event(collector, make_event())
    request(collector.events_url, b"{")
    assert len(collector.events) == 1
    assert len(collector.rejected) == 1
    collector.clear()
    assert collector.events == []
    assert collector.rejected == []


def test_wait_for_blocks_until_events_arrive(collector: EventCollector) -> None:
    def later() -> None:
        time.sleep(0.2)
        post_event(collector, make_event())
        post_event(collector, make_event("AddToCart"))

    threading.Thread(target=later, daemon=True).start()
    started = time.monotonic()
    events = collector.wait_for(lambda evs: any(e["event_type"] == "AddToCart" for e in evs))
    assert time.monotonic() - started >= 0.15
    assert [e["event_type"] for e in events] == ["PageView", "AddToCart"]


def test_wait_for_count_filters_by_type(collector: EventCollector) -> None:
    for event_type in ("PageView", "Purchase", "PageView"):
        post_event(collector, make_event(event_type))
    assert len(collector.wait_for_count(3)) == 3
    page_views = collector.wait_for_count(2, "PageView", timeout=1)
    assert [e["event_type"] for e in page_views] == ["PageView", "PageView"]
    custom = make_event(event_type="Lead")  # a custom event: its props beside url, timestamp
    custom["event_data"] = {"url": "https://shop.example/", "timestamp": TS, "plan": "pro"}
    post_event(collector, custom)
    assert collector.wait_for_count(1, "Lead", timeout=1) == [custom]
    with pytest.raises(ValueError, match="not an event type: event_type must be one of"):
        collector.wait_for_count(1, "No such")


def test_wait_for_timeout_lists_what_arrived(collector: EventCollector) -> None:
    post_event(collector, make_event(landing_page_id="lp_seen"))
    post_event(collector, make_event("Purchase", session_id="bad"))
    started = time.monotonic()
    with pytest.raises(TimeoutError) as excinfo:
        collector.wait_for_count(1, "AddToCart", timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    message = str(excinfo.value)
    assert "timed out after 0.3s waiting for at least 1 AddToCart event(s)" in message
    assert "1 event(s) arrived" in message
    assert "PageView" in message
    assert "lp_seen" in message
    assert "1 request(s) rejected" in message
    assert "422 session_id must be like" in message


def test_wait_for_timeout_with_nothing(collector: EventCollector) -> None:
    def has_purchase(events: list[dict[str, Any]]) -> bool:
        return any(e["event_type"] == "Purchase" for e in events)

    with pytest.raises(TimeoutError, match=r"has_purchase\(events\); 0 event\(s\) arrived"):
        collector.wait_for(has_purchase, timeout=0.1)


def test_echo_prints_one_line_per_event() -> None:
    lines: list[str] = []
    with EventCollector(echo=lines.append) as collector:
        post_event(collector, make_event())
        post_event(collector, make_event("AddToCart", campaign_id=None))
        post_event(collector, make_event("Purchase"))
        post_event(collector, make_event(event_type="No pe"))  # refused: not echoed
        collector.wait_for_count(3)
    assert len(lines) == 3, lines
    page_view, add_to_cart, purchase = lines
    assert page_view[2] == page_view[5] == ":"  # HH:MM:SS
    assert "PageView" in page_view
    assert "lp_123 / camp_456" in page_view
    assert "sess_1732960800000_abc123def4" in page_view
    assert "url=https://shop.example/landing/" in page_view
    assert "lp_123 / -" in add_to_cart
    assert "button_text='Add to cart'" in add_to_cart
    assert "button_id=buy-now" in add_to_cart
    assert "value=49.99" in purchase
    assert "currency=EUR" in purchase
    assert "order_id=ORD-1001" in purchase


def test_event_line_never_spans_lines() -> None:
    event = make_event("AddToCart")
    event["event_data"]["button_text"] = "Buy\nnow\x1b[31m"
    line = format_event_line(event, received_at=0)
    assert "\n" not in line
    assert "\x1b" not in line
    assert "Buy\\nnow" in line


def test_event_line_for_engagement_web_vitals_and_custom_events() -> None:
    url = "https://shop.example/landing/"
    engagement = make_event(event_type="Engagement")
    engagement["event_data"] = {
        **{"url": url, "timestamp": TS, "engaged_ms": 15320, "scroll_depth": 75},
        "variant": "B",
    }
    vitals = make_event(event_type="WebVitals")
    vitals["event_data"] = {
        **{"url": url, "timestamp": TS, "lcp": 1840.5, "lcp_rating": "good"},
        **{"cls": 0.31, "cls_rating": "poor"},
    }
    custom = make_event(event_type="video_play")
    custom["event_data"] = {"url": url, "timestamp": TS, "video": "intro\n", "seconds": 12}
    custom["event_data"]["fbp"] = "fb.1.2.3"
    for event in (engagement, vitals, custom):
        assert validate_event(event) == []
    line = format_event_line(engagement, received_at=0)
    assert line.endswith(
        f"Engagement  lp_123 / camp_456  {engagement['session_id']}  url={url}"
        "  engaged_ms=15320  scroll_depth=75  variant=B"
    )
    line = format_event_line(vitals, received_at=0)
    assert line.endswith(f"url={url}  lcp=1840.5 (good)  cls=0.31 (poor)")
    line = format_event_line(custom, received_at=0)
    assert line.endswith(f"url={url}  video=intro\\n  seconds=12")  # no fbp: not a prop
    assert "video_play " in line


def test_broken_echo_does_not_lose_the_event(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(line: str) -> None:
        raise RuntimeError("printer on fire")

    with EventCollector(echo=broken) as collector:
        assert post_event(collector, make_event()).status == 200
        assert len(collector.events) == 1
    assert "printer on fire" in capsys.readouterr().err


# --------------------------------------------------------------------------- batches


def post_batch(collector: EventCollector, events: list[Any], **kwargs: Any) -> Reply:
    return request(collector.events_url, {"events": events}, **kwargs)


def test_batch_is_accepted_and_stored_in_order(collector: EventCollector) -> None:
    batch = [make_event(), make_event("AddToCart"), make_event("Purchase")]
    reply = post_batch(collector, batch)
    assert reply.status == 200
    assert reply.json() == {"accepted": 3, "duplicates": 0}
    assert collector.events == batch
    assert collector.rejected == []


@pytest.mark.parametrize("size", [1, MAX_BATCH_EVENTS])
def test_batch_sizes_accepted(collector: EventCollector, size: int) -> None:
    reply = post_batch(collector, [make_event() for _ in range(size)])
    assert reply.json() == {"accepted": size, "duplicates": 0}
    assert len(collector.events) == size


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"events": []}, ["events must hold 1-100 events, got 0"]),
        (
            {"events": [make_event() for _ in range(MAX_BATCH_EVENTS + 1)]},
            ["events must hold 1-100 events, got 101"],
        ),
        ({"events": make_event()}, ["events must be an array, got object"]),
        (
            {"events": [make_event()], "sent_at": TS},
            ["sent_at is not allowed (unknown key)"],
        ),
        (
            {"events": [make_event(), [make_event()]]},
            ["events[1] must be a JSON object, got array"],
        ),
    ],
    ids=["empty", "too-many", "not-an-array", "extra-key", "item-not-object"],
)
def test_malformed_batch_is_422(
    collector: EventCollector, body: dict[str, Any], expected: list[str]
) -> None:
    reply = request(collector.events_url, body)
    assert reply.status == 422
    assert reply.json() == {"errors": expected}
    assert validate_payload(body) == expected
    assert collector.events == []


def test_batch_with_invalid_events_is_refused_whole_naming_each_index(
    collector: EventCollector,
) -> None:
    good = make_event()
    batch = [
        make_event(event_id=""),
        good,
        make_event("Purchase", session_id="nope"),
        _with_data("Purchase", currency="usd"),
    ]
    reply = post_batch(collector, batch, headers={"Origin": ORIGIN})
    assert reply.status == 422
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    errors = reply.json()["errors"]
    assert [e.split(" ")[0] for e in errors] == [
        "events[0].event_id",
        "events[2].session_id",
        "events[3].event_data.currency",
    ]
    assert errors[1] == "events[2].session_id must be like sess_<digits>_<a-z0-9>, got 'nope'"
    assert collector.events == []
    assert collector.rejected == [(422, "; ".join(errors))]
    # nothing of the refused batch counts as seen: the good event is stored when resent
    assert post_event(collector, good).json() == {"accepted": 1, "duplicates": 0}
    assert collector.events == [good]


def test_batch_over_the_size_limit_is_413(collector: EventCollector) -> None:
    events = [make_event(user_agent="x" * 1000) for _ in range(MAX_BATCH_EVENTS)]
    body = json.dumps({"events": events}).encode()
    assert len(body) > MAX_BODY_BYTES
    reply = request(collector.events_url, body)
    assert reply.status == 413
    assert collector.events == []


def test_single_event_keys_do_not_make_a_batch() -> None:
    # only an "events" key makes a batch; anything else is checked as one event
    assert validate_payload(make_event()) == []
    assert validate_payload([make_event()]) == ["event must be a JSON object, got array"]


# --------------------------------------------------------------------------- de-duplication


def test_same_event_twice_is_acknowledged_and_stored_once(collector: EventCollector) -> None:
    event = make_event("Purchase", event_id="purchase:lp_123:ORD-1001")
    first = post_event(collector, event)
    second = post_event(collector, event)
    assert (first.status, second.status) == (200, 200)
    assert first.json() == {"accepted": 1, "duplicates": 0}
    assert second.json() == {"accepted": 0, "duplicates": 1}
    assert collector.events == [event]
    assert collector.duplicates == 1
    assert collector.rejected == []


def test_duplicate_is_recognised_by_event_id_alone(collector: EventCollector) -> None:
    """A purchase sent again later (another timestamp, session) is still the same order."""
    first = make_event("Purchase", event_id="purchase:lp_123:ORD-1001")
    again = make_event(
        "Purchase",
        event_id="purchase:lp_123:ORD-1001",
        session_id="sess_1_other",
        timestamp="2024-12-01T09:00:00Z",
    )
    post_event(collector, first)
    assert post_event(collector, again).json() == {"accepted": 0, "duplicates": 1}
    assert collector.events == [first]


def test_same_event_in_two_batches(collector: EventCollector) -> None:
    a, b, c = make_event(), make_event("AddToCart"), make_event("Purchase")
    assert post_batch(collector, [a, b]).json() == {"accepted": 2, "duplicates": 0}
    assert post_batch(collector, [b, c]).json() == {"accepted": 1, "duplicates": 1}
    assert post_event(collector, a).json() == {"accepted": 0, "duplicates": 1}
    assert collector.events == [a, b, c]
    assert collector.duplicates == 2


def test_duplicates_within_one_batch(collector: EventCollector) -> None:
    a, b = make_event(), make_event("AddToCart")
    reply = post_batch(collector, [a, a, b, a])
    assert reply.status == 200
    assert reply.json() == {"accepted": 2, "duplicates": 2}
    assert collector.events == [a, b]


def test_concurrent_posts_of_the_same_event_store_one(collector: EventCollector) -> None:
    event = make_event("Purchase", event_id="purchase:lp_123:ORD-7")
    body = json.dumps(event).encode()
    start = threading.Barrier(20)
    replies: queue.Queue[Reply] = queue.Queue()

    def send() -> None:
        start.wait()
        replies.put(request(collector.events_url, body))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = [replies.get_nowait() for _ in range(20)]
    assert [r.status for r in got] == [200] * 20
    assert sorted(r.json()["accepted"] for r in got) == [0] * 19 + [1]
    assert collector.events == [event]
    assert collector.duplicates == 19
    assert sum(a.accepted for a in collector.attempts) == 1


def test_clear_forgets_seen_event_ids(collector: EventCollector) -> None:
    event = make_event()
    post_event(collector, event)
    post_event(collector, event)
    collector.clear()
    assert (collector.events, collector.duplicates, collector.attempts) == ([], 0, [])
    assert post_event(collector, event).json() == {"accepted": 1, "duplicates": 0}


def test_echo_marks_duplicates_and_on_event_never_sees_them() -> None:
    lines: list[str] = []
    seen: list[dict[str, Any]] = []
    event = make_event("Purchase")
    with EventCollector(echo=lines.append, on_event=seen.append) as collector:
        post_event(collector, event)
        post_batch(collector, [event, make_event()])
    assert seen == [event, collector.events[1]]
    assert len(lines) == 3, lines
    assert "Purchase" in lines[0]
    assert "duplicate" not in lines[0]
    assert "PageView" in lines[1]
    assert lines[2].endswith("order_id=ORD-1001  (duplicate, not stored)"), lines[2]


# --------------------------------------------------------------------------- CORS for fetch


@pytest.mark.parametrize(
    "make_reply",
    [
        lambda c: post_event(c, make_event(), headers={"Origin": ORIGIN}),
        lambda c: post_event(c, make_event(user_agent=None), headers={"Origin": ORIGIN}),
        lambda c: request(c.events_url, method="OPTIONS", headers={"Origin": ORIGIN}),
        lambda c: request(c.events_url, method="GET", headers={"Origin": ORIGIN}),
    ],
    ids=["accepted", "refused", "preflight", "get"],
)
def test_cors_responses_expose_retry_after(
    collector: EventCollector, make_reply: Callable[[EventCollector], Reply]
) -> None:
    reply = make_reply(collector)
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert reply.headers["Access-Control-Expose-Headers"] == "Retry-After"


def test_no_expose_headers_without_origin(collector: EventCollector) -> None:
    collector.fail(503, retry_after=5)
    reply = post_event(collector, make_event())
    assert reply.headers["Retry-After"] == "5"
    assert "Access-Control-Expose-Headers" not in reply.headers


# --------------------------------------------------------------------------- failure modes


def _send_raw(collector: EventCollector, body: bytes) -> int:
    """POST with http.client on a fresh connection; the status."""
    conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
    try:
        conn.request("POST", EVENTS_PATH, body, {"Content-Type": BEACON_TYPE})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_fail_answers_the_status_with_retry_after_and_stores_nothing(
    collector: EventCollector,
) -> None:
    event = make_event()
    collector.fail(503, retry_after=30)
    assert collector.fail_with == 503
    reply = post_event(collector, event, headers={"Origin": ORIGIN})
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "30"
    assert reply.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert reply.json() == {"error": "collector configured to fail with 503"}
    assert collector.events == []
    assert collector.duplicates == 0

    collector.recover()
    assert collector.fail_with is None
    # the failed attempt did not mark the event as seen: it is stored now
    assert post_event(collector, event).json() == {"accepted": 1, "duplicates": 0}
    assert [(a.status, a.event_ids) for a in collector.attempts] == [
        (503, (event["event_id"],)),
        (200, (event["event_id"],)),
    ]


def test_fail_a_number_of_times_then_normal(collector: EventCollector) -> None:
    collector.fail(429, times=2)
    statuses = [post_event(collector, make_event()).status for _ in range(4)]
    assert statuses == [429, 429, 200, 200]
    assert len(collector.events) == 2
    assert [a.status for a in collector.attempts] == [429, 429, 200, 200]
    assert "Retry-After" not in post_event(collector, make_event()).headers


def test_retry_after_as_http_date_and_verbatim(collector: EventCollector) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    collector.fail(503, retry_after=when)
    reply = post_event(collector, make_event())
    assert reply.headers["Retry-After"] == "Wed, 02 Jan 2030 01:04:05 GMT"
    assert parsedate_to_datetime(reply.headers["Retry-After"]) == when
    collector.fail(429, retry_after="soon-ish")
    reply = post_event(collector, make_event())
    assert (reply.status, reply.headers["Retry-After"]) == (429, "soon-ish")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.fail(200), "status must be an HTTP error status"),
        (lambda c: c.fail(600), "status must be an HTTP error status"),
        (lambda c: c.fail(True), "status must be an HTTP error status"),
        (lambda c: c.fail(503, times=0), "times must be None"),
        (lambda c: c.fail(503, retry_after=-1), "retry_after seconds must be >= 0"),
        (lambda c: c.fail(503, retry_after="1\r\nX-Evil: 1"), "retry_after must be printable"),
        (lambda c: c.fail(503, retry_after=datetime(2030, 1, 1)), "timezone-aware"),
        (lambda c: c.fail(503, retry_after=1.5), "retry_after must be an int, str or datetime"),
        (lambda c: c.drop_connections(times=-1), "times must be None"),
        (lambda c: c.delay(-1), "seconds must be a finite number >= 0"),
        (lambda c: c.delay(float("nan")), "seconds must be a finite number >= 0"),
        (lambda c: setattr(c, "fail_with", 302), "fail_with must be an HTTP error status"),
    ],
)
def test_failure_mode_arguments_are_checked(
    call: Callable[[EventCollector], None], message: str
) -> None:
    collector = EventCollector()
    with pytest.raises(ValueError, match=message):
        call(collector)


def test_drop_connections_closes_without_an_answer(collector: EventCollector) -> None:
    event = make_event()
    collector.drop_connections(times=1)
    with pytest.raises(http.client.RemoteDisconnected):
        _send_raw(collector, json.dumps(event).encode())
    assert collector.events == []
    (attempt,) = collector.wait_for_attempts(1)
    assert attempt.outcome == "dropped"
    assert attempt.status is None
    assert attempt.event_ids == (event["event_id"],)
    assert collector.rejected == []
    # times=1: the next request is answered
    assert _send_raw(collector, json.dumps(event).encode()) == 200
    assert collector.events == [event]


def test_drop_connections_until_recover(collector: EventCollector) -> None:
    collector.drop_connections()
    for _ in range(3):
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            post_event(collector, make_event())
    collector.recover()
    assert post_event(collector, make_event()).status == 200
    outcomes = [a.outcome for a in collector.wait_for_attempts(4)]
    assert outcomes == ["dropped"] * 3 + ["answered"]


def test_drop_after_storing_is_a_lost_answer_that_dedup_absorbs(
    collector: EventCollector,
) -> None:
    batch = [make_event(), make_event("AddToCart")]
    collector.drop_connections(times=1, store=True)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        post_batch(collector, batch)
    assert collector.events == batch  # stored, but the client could not know
    # the client resends what it could not confirm
    assert post_batch(collector, batch).json() == {"accepted": 0, "duplicates": 2}
    assert collector.events == batch
    first, second = collector.attempts
    assert (first.outcome, first.accepted, first.events) == ("dropped", 2, 2)
    assert (second.status, second.duplicates) == (200, 2)


def test_delay_holds_only_the_slow_request(collector: EventCollector) -> None:
    collector.delay(10, times=1)
    slow_event = make_event()
    slow: queue.Queue[Reply] = queue.Queue()
    started = time.monotonic()
    threading.Thread(
        target=lambda: slow.put(post_event(collector, slow_event)), daemon=True
    ).start()
    deadline = time.monotonic() + 5
    while not collector.attempts and time.monotonic() < deadline:
        time.sleep(0.01)
    # other requests are served while the slow one waits
    fast_event = make_event("AddToCart")
    assert post_event(collector, fast_event).status == 200
    assert request(collector.url + "/healthz", method="GET").status == 200
    assert time.monotonic() - started < 5
    held = collector.attempts[0]
    assert (held.outcome, held.delayed, held.event_ids) == (
        "pending",
        10.0,
        (slow_event["event_id"],),
    )
    assert collector.events == [fast_event]
    with pytest.raises(queue.Empty):
        slow.get(timeout=0.2)

    collector.recover()  # ends the wait of the request in flight
    assert slow.get(timeout=5).status == 200
    assert time.monotonic() - started < 5
    assert collector.events == [fast_event, slow_event]


def test_delay_then_answer(collector: EventCollector) -> None:
    collector.delay(0.3)
    started = time.monotonic()
    assert post_event(collector, make_event()).status == 200
    assert time.monotonic() - started >= 0.3
    collector.delay(0)
    started = time.monotonic()
    assert post_event(collector, make_event()).status == 200
    assert time.monotonic() - started < 0.3


def test_delay_combines_with_fail(collector: EventCollector) -> None:
    collector.delay(0.2)
    collector.fail(503, retry_after=1)
    started = time.monotonic()
    reply = post_event(collector, make_event())
    assert (reply.status, reply.headers["Retry-After"]) == (503, "1")
    assert time.monotonic() - started >= 0.2


def test_stop_ends_delayed_requests_promptly() -> None:
    collector = EventCollector().start()
    collector.delay(30)

    def send() -> None:
        with contextlib.suppress(OSError):
            post_event(collector, make_event())

    worker = threading.Thread(target=send, daemon=True)
    started = time.monotonic()
    worker.start()
    while not collector.attempts and time.monotonic() - started < 5:
        time.sleep(0.01)
    collector.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5


def test_failures_are_decided_per_request_under_concurrency(collector: EventCollector) -> None:
    collector.fail(503, times=5)
    start = threading.Barrier(20)
    statuses: queue.Queue[int] = queue.Queue()

    def send() -> None:
        start.wait()
        statuses.put(post_event(collector, make_event()).status)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = sorted(statuses.get_nowait() for _ in range(20))
    assert got == [200] * 15 + [503] * 5
    assert len(collector.events) == 15


def test_without_keep_alive_every_answer_closes_the_connection() -> None:
    with EventCollector(keep_alive=False) as collector:
        conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=5)
        try:
            conn.request(
                "POST", EVENTS_PATH, json.dumps(make_event()), {"Content-Type": BEACON_TYPE}
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert response.headers["Connection"] == "close"
            assert response.will_close
        finally:
            conn.close()


def test_preflights_are_counted_not_recorded_as_attempts(collector: EventCollector) -> None:
    request(collector.events_url, method="OPTIONS", headers={"Origin": ORIGIN})
    assert collector.preflights == 1
    assert collector.attempts == []
    collector.clear()
    assert collector.preflights == 0


def test_fail_with_attribute_is_fail_and_recover(collector: EventCollector) -> None:
    collector.fail_with = 500
    assert post_event(collector, make_event()).status == 500
    collector.fail_with = None
    assert post_event(collector, make_event()).status == 200


# --------------------------------------------------------------------------- attempts log


def test_attempts_record_every_post(collector: EventCollector) -> None:
    batch = [make_event(), make_event("Purchase")]
    before = time.monotonic()
    post_batch(collector, batch, headers={"Origin": ORIGIN, "Sec-Fetch-Mode": "cors"})
    request(collector.events_url, b"{")
    post_batch(collector, [*batch, make_event(event_id="")])
    request(collector.events_url, b"x" * (MAX_BODY_BYTES + 1))
    request(collector.events_url, method="OPTIONS", headers={"Origin": ORIGIN})  # not a POST
    request(collector.url + "/healthz", method="GET")
    attempts = collector.wait_for_attempts(4, timeout=5)
    assert len(attempts) == 4
    assert before <= attempts[0].at <= attempts[1].at <= attempts[2].at <= attempts[3].at
    assert abs(attempts[0].wall_time - time.time()) < 10
    first = attempts[0]
    assert (first.outcome, first.status, first.events, first.accepted) == ("answered", 200, 2, 2)
    assert first.event_ids == tuple(e["event_id"] for e in batch)
    assert (first.origin, first.fetch_mode) == (ORIGIN, "cors")
    assert [a.status for a in attempts[1:]] == [400, 422, 413]
    assert [a.events for a in attempts[1:]] == [0, 3, 0]
    assert attempts[2].event_ids == (*first.event_ids, "")
    assert attempts[2].accepted == 0
    assert attempts[3].origin is None
    assert attempts[3].fetch_mode is None


def test_attempt_of_a_client_that_goes_away_mid_body(collector: EventCollector) -> None:
    with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {BEACON_TYPE}\r\n"
                "Content-Length: 100\r\n\r\n{"
            ).encode()
        )
    (attempt,) = collector.wait_for_attempts(1, timeout=5)
    assert attempt.outcome == "aborted"
    assert collector.events == []


def test_wait_for_attempts_times_out(collector: EventCollector) -> None:
    with pytest.raises(TimeoutError, match=r"waiting for 1 finished attempt\(s\); 0 finished"):
        collector.wait_for_attempts(1, timeout=0.1)


def test_wait_for_timeout_mentions_duplicates_and_drops(collector: EventCollector) -> None:
    event = make_event()
    post_event(collector, event)
    post_event(collector, event)
    collector.drop_connections(times=1)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        post_event(collector, make_event())
    collector.wait_for_attempts(3)
    with pytest.raises(TimeoutError) as excinfo:
        collector.wait_for_count(2, timeout=0.1)
    message = str(excinfo.value)
    assert "1 duplicate event(s) acknowledged, not stored" in message
    assert "1 request(s) dropped without an answer" in message


# --------------------------------------------------------------------------- in a real browser

_FETCH_JS = """async ([url, body, credentials]) => {
  try {
    const r = await fetch(url, {method: "POST", body, keepalive: true, mode: "cors", credentials});
    return {status: r.status, retryAfter: r.headers.get("Retry-After"), text: await r.text()};
  } catch (error) {
    return {error: String(error)};
  }
}"""


def test_cors_keepalive_fetch_and_beacon_from_a_page(
    browser_page: BrowserPage, serve_dir: Callable[[Path], str], tmp_path: Path
) -> None:
    """What the tracker relies on, in Chromium, page and collector on different origins:
    a CORS-mode keepalive fetch with a text/plain body sends no preflight and can read
    the status and Retry-After (with or without credentials); a dropped connection is a
    network error; sendBeacon (no-cors, credentials included) still delivers."""
    (tmp_path / "index.html").write_text("<!doctype html><title>page</title>", encoding="utf-8")
    site = serve_dir(tmp_path)
    page = browser_page.page
    with EventCollector(keep_alive=False) as collector:
        page.goto(site + "/")

        def send(event: dict[str, Any], credentials: str = "omit") -> dict[str, Any]:
            body = json.dumps(event)
            result: dict[str, Any] = page.evaluate(
                _FETCH_JS, [collector.events_url, body, credentials]
            )
            return result

        first = make_event()
        assert send(first) == {
            "status": 200,
            "retryAfter": None,
            "text": '{"accepted": 1, "duplicates": 0}',
        }
        assert send(first, "include")["text"] == '{"accepted": 0, "duplicates": 1}'
        collector.fail(429, retry_after=7)
        assert send(make_event())["retryAfter"] == "7"
        collector.drop_connections(times=1)
        assert send(make_event()) == {"error": "TypeError: Failed to fetch"}
        collector.recover()
        beacon = make_event("AddToCart")
        sent = page.evaluate(
            "([url, body]) => navigator.sendBeacon(url, body)",
            [collector.events_url, json.dumps(beacon)],
        )
        assert sent is True
        collector.wait_for(lambda events: len(events) == 2)
        attempts = collector.wait_for_attempts(5)

    assert collector.events == [first, beacon]
    assert collector.preflights == 0
    assert [(a.outcome, a.status) for a in attempts] == [
        ("answered", 200),
        ("answered", 200),
        ("answered", 429),
        ("dropped", None),
        ("answered", 200),
    ]
    assert [a.fetch_mode for a in attempts] == ["cors"] * 4 + ["no-cors"]
    assert {a.origin for a in attempts} == {site}
    # Chromium logs every failed request as a console error; nothing else went wrong
    assert [e.split(" (http")[0] for e in browser_page.errors] == [
        "console.error: Failed to load resource: the server responded with a status of "
        "429 (Too Many Requests)",
        "console.error: Failed to load resource: net::ERR_EMPTY_RESPONSE",
    ]


# --------------------------------------------------------------------------- CLI


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "aae_tracking_plugins.collector", *args]


class _LineReader:
    """Read a pipe's lines in a thread so the test can wait with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                message = f"no matching line within {timeout}s; got {self.seen}"
                raise AssertionError(message) from None
            if line is None:
                raise AssertionError(f"output ended; got {self.seen}")
            self.seen.append(line)
            if condition(line):
                return line


@pytest.fixture
def cli_collector(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], _LineReader, str]]:
    """``python -m aae_tracking_plugins.collector --port 0 --jsonl FILE`` running."""
    jsonl = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        _cli("--port", "0", "--jsonl", str(jsonl)),
        cwd=ROOT,
        env=_cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reader = _LineReader(proc.stdout)
        banner = reader.wait_for(lambda line: "api_base_url" in line)
        base_url = banner.split()[-1]
        assert base_url.startswith("http://127.0.0.1:")
        yield proc, reader, base_url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_cli_prints_accepted_events_and_appends_jsonl(
    cli_collector: tuple[subprocess.Popen[str], _LineReader, str], tmp_path: Path
) -> None:
    proc, reader, base_url = cli_collector
    purchase = make_event("Purchase")
    assert request(base_url + EVENTS_PATH, purchase).status == 200
    line = reader.wait_for(lambda line: "Purchase" in line)
    assert "lp_123 / camp_456" in line
    assert "value=49.99  currency=EUR  order_id=ORD-1001" in line

    # a resend (in a batch) is acknowledged, printed as a duplicate, not written to the JSONL
    reply = request(base_url + EVENTS_PATH, {"events": [purchase]})
    assert reply.json() == {"accepted": 0, "duplicates": 1}
    line = reader.wait_for(lambda line: "Purchase" in line)
    assert line.endswith("order_id=ORD-1001  (duplicate, not stored)")

    assert request(base_url + EVENTS_PATH, make_event(screen_resolution="big")).status == 422
    # a lone surrogate (valid JSON escape, not encodable as UTF-8) keeps the JSONL line valid
    click = make_event("AddToCart")
    click["event_data"]["button_text"] = "half \ud83d"
    assert request(base_url + EVENTS_PATH, click).status == 200
    reader.wait_for(lambda line: "AddToCart" in line)

    # SIGINT is what Ctrl-C sends: clean exit, no traceback
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr
    reader.wait_for(lambda line: line == "stopped; 2 event(s) received, 1 duplicate(s) not stored")

    recorded = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in recorded] == [purchase, click]


def test_cli_exits_cleanly_on_sigterm(
    cli_collector: tuple[subprocess.Popen[str], _LineReader, str],
) -> None:
    proc, _, _ = cli_collector
    proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_cli_port_in_use_exits_2_with_one_line() -> None:
    with socket.socket() as occupier:
        occupier.bind(("127.0.0.1", 0))
        occupier.listen()
        port = occupier.getsockname()[1]
        result = subprocess.run(
            _cli("--port", str(port)),
            cwd=ROOT,
            env=_cli_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0]
    assert "already in use" in lines[0]


def test_cli_quiet_still_shows_banner(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        _cli("--port", "0", "--quiet"),
        cwd=ROOT,
        env=_cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        reader = _LineReader(proc.stdout)
        base_url = reader.wait_for(lambda line: "api_base_url" in line).split()[-1]
        assert request(base_url + EVENTS_PATH, make_event()).status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        reader.wait_for(lambda line: line.startswith("stopped;"))
        assert not any("PageView" in line for line in reader.seen)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_rejects_bad_port() -> None:
    result = subprocess.run(
        _cli("--port", "70000"),
        cwd=ROOT,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "port must be 0-65535" in result.stderr


def test_cli_usage_errors_name_the_option_without_a_traceback() -> None:
    for args, expected in (
        (("--bogus",), "No such option '--bogus'"),
        (("--port", "http"), "Invalid value for '--port'"),
    ):
        result = subprocess.run(
            _cli(*args), cwd=ROOT, env=_cli_env(), capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith(f"Error: {expected}"), result.stderr
