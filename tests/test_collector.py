"""The local event collector, over real HTTP against a running server."""

from __future__ import annotations

import copy
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
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from aae_tracking_plugins.collector import (
    EVENTS_PATH,
    MAX_BODY_BYTES,
    EventCollector,
    format_event_line,
    validate_event,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TS = "2024-11-30T10:00:00.000Z"
BEACON_TYPE = "text/plain;charset=UTF-8"
ORIGIN = "http://127.0.0.1:8000"


def make_event(kind: str = "PageView", /, **overrides: Any) -> dict[str, Any]:
    """A valid event of type ``kind``; ``overrides`` replace (or add) top-level keys."""
    event_data: dict[str, Any] = {
        "PageView": {"url": "https://shop.example/landing/", "referrer": "", "timestamp": TS},
        "AddToCart": {"button_text": "Add to cart", "button_id": "buy-now", "timestamp": TS},
        "Purchase": {"value": 49.99, "currency": "EUR", "order_id": "ORD-1001", "timestamp": TS},
    }[kind]
    event: dict[str, Any] = {
        "event_type": kind,
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
    ],
    ids=["null-campaign", "null-button-id", "zero-value", "url-variants", "id-chars", "no-millis"],
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


INVALID_EVENTS: list[tuple[str, Any, str]] = [
    ("not-an-object", [make_event()], "event must be a JSON object"),
    ("missing-top-key", _without(make_event(), "session_id"), "session_id is required"),
    ("missing-campaign", _without(make_event(), "campaign_id"), "campaign_id is required"),
    ("unknown-top-key", make_event(extra=1), "extra is not allowed"),
    ("unknown-event-type", make_event(event_type="Click"), "event_type must be one of"),
    ("event-type-wrong-case", make_event(event_type="pageview"), "event_type must be one of"),
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
    ("epoch-timestamp", make_event(timestamp=1732960800000), "timestamp must be an ISO-8601"),
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
    assert reply.status == 204
    assert reply.body == b""
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
    assert post_event(collector, make_event()).status == 204


def test_body_of_exactly_the_limit_is_accepted(collector: EventCollector) -> None:
    compact = json.dumps(make_event()).encode()
    body = compact + b" " * (MAX_BODY_BYTES - len(compact))
    assert len(body) == MAX_BODY_BYTES
    assert request(collector.events_url, body).status == 204


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
            assert response.status == 204
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
    assert statuses == [204] * 25
    ids = {e["landing_page_id"] for e in collector.wait_for_count(25, timeout=5)}
    assert ids == {f"lp_{i}" for i in range(25)}


def test_query_string_is_ignored(collector: EventCollector) -> None:
    reply = request(collector.events_url + "?v=1", make_event())
    assert reply.status == 204


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
    assert reply.status == 204
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
    assert reply.status == 204
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert "Access-Control-Allow-Credentials" not in reply.headers


# --------------------------------------------------------------------------- other routes


def test_get_lists_accepted_events(collector: EventCollector) -> None:
    assert request(collector.events_url, method="GET").json() == []
    first, second = make_event(), make_event("Purchase")
    post_event(collector, first)
    post_event(collector, make_event(event_type="Nope"))
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
    with pytest.raises(ValueError, match="unknown event_type"):
        collector.wait_for_count(1, "Click")


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
        post_event(collector, make_event(event_type="Nope"))  # refused: not echoed
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


def test_broken_echo_does_not_lose_the_event(capsys: pytest.CaptureFixture[str]) -> None:
    def broken(line: str) -> None:
        raise RuntimeError("printer on fire")

    with EventCollector(echo=broken) as collector:
        assert post_event(collector, make_event()).status == 204
        assert len(collector.events) == 1
    assert "printer on fire" in capsys.readouterr().err


# --------------------------------------------------------------------------- CLI


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
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
        cwd=REPO_ROOT,
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
    assert request(base_url + EVENTS_PATH, make_event("Purchase")).status == 204
    line = reader.wait_for(lambda line: "Purchase" in line)
    assert "lp_123 / camp_456" in line
    assert "value=49.99  currency=EUR  order_id=ORD-1001" in line

    assert request(base_url + EVENTS_PATH, make_event(screen_resolution="big")).status == 422

    # SIGINT is what Ctrl-C sends: clean exit, no traceback
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr
    reader.wait_for(lambda line: line.startswith("stopped; 1 event(s) received"))

    recorded = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in recorded] == [make_event("Purchase")]


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
            cwd=REPO_ROOT,
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
        cwd=REPO_ROOT,
        env=_cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        reader = _LineReader(proc.stdout)
        base_url = reader.wait_for(lambda line: "api_base_url" in line).split()[-1]
        assert request(base_url + EVENTS_PATH, make_event()).status == 204
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
        cwd=REPO_ROOT,
        env=_cli_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "port must be 0-65535" in result.stderr
