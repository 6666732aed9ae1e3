"""Forwarding to Meta's Conversions API through the outbox, on SQLite and PostgreSQL, against a
real loopback stand-in of the Graph API endpoint (tests/collector/graph_standin.py): the exact
payload, what is not forwarded, Meta failing (500, 429 with Retry-After, no connection) and
recovering with nothing lost and each event forwarded once, a restart resuming pending rows,
4xx failing at once with Meta's message, and the access token never stored or printed."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import lxml.html
import psycopg
import pytest

from aae_tracking_plugins.collector.capi import CapiSettings
from aae_tracking_plugins.collector.forwarding import (
    backoff_delay,
    post_events,
    retry_after_seconds,
    split_budget,
)
from aae_tracking_plugins.collector.storage import sqlite_path
from aae_tracking_plugins.collector.storage.outbox import OutboxStatus
from tests.collector.graph_standin import INVALID_EVENT, fresh_event, graph_standin
from tests.collector_helpers import InProcessCollector, post, request, running_collector
from tests.events import make_event

PIXEL = "1234567890"
ACCESS = "EAAB-access-token-never-shown-42"
FBP = "fb.1.1596403881668.1116446470"
FBC = "fb.1.1554763741205.AbCdEfGh"
AGENT = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}


def settings(graph_url: str, **options: Any) -> CapiSettings:
    """Forwarding to ``graph_url`` with delays short enough for a test."""
    values: dict[str, Any] = {
        "backoff": 0.05,
        "max_backoff": 0.2,
        "poll_interval": 0.05,
        "timeout": 5.0,
        "lease": 1.0,
        "test_event_code": "TEST4242",
    }
    return CapiSettings(PIXEL, ACCESS, graph_url, **(values | options))


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def status(collector: InProcessCollector) -> OutboxStatus:
    return collector.service.store.outbox_status()


def unix(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp())


def test_the_payload_is_exactly_what_meta_documents(database_url: str) -> None:
    view = fresh_event("PageView", fbp=FBP, fbc=FBC, variant="B")
    cart = fresh_event("AddToCart", fbp=FBP, variant="B", utm_source="news")
    purchase = fresh_event("Purchase", fbc=FBC, variant="B")
    with (
        graph_standin() as meta,
        running_collector(database_url, capi=settings(meta.url), write_token="w") as collector,
    ):
        assert post(collector.url, {"events": [view, cart]}, headers=AGENT).status == 200
        server = {"Authorization": "Bearer w", "User-Agent": "checkout-webhook/1.0"}
        assert post(collector.url, purchase, headers=server).status == 200
        assert sorted(meta.wait_for(3)) == sorted(e["event_id"] for e in (view, cart, purchase))
        wait_until(lambda: status(collector).sent == 3)
    sent = {event["event_id"]: event for got in meta.received for event in got.body["data"]}
    for got in meta.received:
        assert got.path == f"/v21.0/{PIXEL}/events"
        assert set(got.body) == {"data", "access_token", "test_event_code"}
        assert (got.body["access_token"], got.body["test_event_code"]) == (ACCESS, "TEST4242")
    page = "https://shop.example/landing/"
    browser = {"client_user_agent": AGENT["User-Agent"], "client_ip_address": "127.0.0.1"}
    assert sent[view["event_id"]] == {
        "event_name": "PageView",
        "event_time": unix(view),
        "event_id": view["event_id"],
        "action_source": "website",
        "event_source_url": page,
        "user_data": browser | {"fbp": FBP, "fbc": FBC},
        "custom_data": {"variant": "B"},
    }
    assert sent[cart["event_id"]] == {
        "event_name": "AddToCart",
        "event_time": unix(cart),
        "event_id": cart["event_id"],
        "action_source": "website",
        "event_source_url": page,  # the session's PageView: an AddToCart carries no URL
        "user_data": browser | {"fbp": FBP},
        "custom_data": {"content_name": "Add to cart", "variant": "B"},
    }
    # Server-sent: the visitor's user agent from the event, no IP (the webhook's is not theirs).
    assert sent[purchase["event_id"]] == {
        "event_name": "Purchase",
        "event_time": unix(purchase),
        "event_id": purchase["event_id"],
        "action_source": "website",
        "event_source_url": page,
        "user_data": {"client_user_agent": purchase["user_agent"], "fbc": FBC},
        "custom_data": {"value": 49.99, "currency": "EUR", "variant": "B"},
    }


def test_only_standard_events_with_meta_match_keys_are_forwarded(database_url: str) -> None:
    no_keys = fresh_event("PageView")
    with_keys = fresh_event("PageView", fbc=FBC)
    lead = fresh_event("PageView", fbp=FBP, plan="pro")
    lead["event_type"] = "Lead"
    del lead["event_data"]["referrer"]
    custom = fresh_event("PageView", fbp=FBP)
    custom["event_type"] = "video_play"
    del custom["event_data"]["referrer"]
    with (
        graph_standin() as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        body = {"events": [no_keys, with_keys, lead, custom, with_keys]}
        assert post(collector.url, body, headers=AGENT).json() == {"accepted": 4, "duplicates": 1}
        assert sorted(meta.wait_for(2)) == sorted([with_keys["event_id"], lead["event_id"]])
        wait_until(lambda: status(collector).sent == 2)
        time.sleep(0.3)  # nothing else comes
        assert status(collector) == OutboxStatus(sent=2)
    (sent_lead,) = [
        e for got in meta.received for e in got.body["data"] if e["event_name"] == "Lead"
    ]
    assert sent_lead["custom_data"] == {"plan": "pro"}
    assert sent_lead["event_source_url"] == "https://shop.example/landing/"


def test_meta_failing_and_recovering_loses_nothing_and_sends_each_event_once(
    database_url: str,
) -> None:
    down = (500, {"error": {"message": "Service temporarily unavailable", "code": 2}}, {})
    busy = (429, {"error": {"message": "Too many calls", "code": 17}}, {"Retry-After": "1"})
    events = [fresh_event("PageView", fbp=FBP) for _ in range(3)]
    with (
        graph_standin(down, busy) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert post(collector.url, {"events": events}, headers=AGENT).status == 200
        delivered = meta.wait_for(3)
        wait_until(lambda: status(collector).sent == 3)
        now = status(collector)
    assert sorted(delivered) == sorted(event["event_id"] for event in events)
    assert [got.status for got in meta.received] == [500, 429, 200]
    assert meta.received[2].at - meta.received[1].at >= 0.95  # Retry-After: 1 honoured
    assert (now.pending, now.sent, now.failed) == (0, 3, 0)
    assert now.last_error == "Meta answered 429: Too many calls (code 17)"
    warned = [line for line in collector.lines if line.startswith("capi:")]
    assert warned[0].startswith("capi: Meta answered 500: Service temporarily unavailable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_restart_resumes_what_could_not_be_sent(database_url: str) -> None:
    events = [fresh_event("PageView", fbc=FBC) for _ in range(2)]
    nowhere = settings(f"http://127.0.0.1:{free_port()}", max_attempts=1000)
    with running_collector(database_url, capi=nowhere) as collector:
        assert post(collector.url, {"events": events}, headers=AGENT).status == 200
        wait_until(lambda: "cannot reach" in (status(collector).last_error or ""))
        assert status(collector).pending == 2
    with (
        graph_standin() as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert sorted(meta.wait_for(2)) == sorted(event["event_id"] for event in events)
        wait_until(lambda: status(collector).sent == 2)
        time.sleep(0.3)
        assert len(meta.delivered()) == 2


def test_a_client_error_fails_at_once_with_metas_message(database_url: str) -> None:
    refused = (
        400,
        {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}},
        {},
    )
    stale = make_event("PageView")  # created in 2024
    stale["event_data"]["fbp"] = FBP
    orphan = fresh_event("Purchase", fbp=FBP)
    orphan["session_id"] = "sess_1_nopageview"
    with (
        graph_standin(refused) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        event = fresh_event("PageView", fbp=FBP)
        assert post(collector.url, event, headers=AGENT).status == 200
        wait_until(lambda: status(collector).failed == 1)
        assert status(collector).last_error == (
            "Meta answered 400: Invalid parameter (code 100, OAuthException)"
        )
        assert post(collector.url, {"events": [stale, orphan]}, headers=AGENT).status == 200
        wait_until(lambda: status(collector).failed == 3)
        time.sleep(0.3)
        assert [got.status for got in meta.received] == [400]  # not retried, nothing else sent
        assert status(collector).last_error in (
            "older than 7 days: Meta refuses it",
            "no page URL: the session has no stored PageView (event_source_url is required)",
        )


def test_one_invalid_event_fails_alone_and_the_rest_of_its_batch_is_sent(
    database_url: str,
) -> None:
    events = [fresh_event("PageView", fbp=FBP) for _ in range(16)]
    bad = events[11]["event_id"]
    with (
        graph_standin(refused=frozenset({bad})) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert post(collector.url, {"events": events}, headers=AGENT).status == 200
        wait_until(lambda: status(collector).sent + status(collector).failed == 16)
        time.sleep(0.3)  # nothing else comes
        now = status(collector)
    assert (now.pending, now.sent, now.failed) == (0, 15, 1)
    assert now.last_error == (
        "Meta answered 400: Invalid parameter: The timestamp for this event is too far in the"
        " past. (code 100, subcode 2804003, OAuthException)"
    )
    assert sorted(meta.delivered()) == sorted(e["event_id"] for e in events if e["event_id"] != bad)
    assert len(meta.received[0].event_ids) == 16  # one batch first, as long as Meta takes it
    # Halving: 16, then 8 + 8, 4 + 4, 2 + 2, 1 + 1; each good half goes through once.
    assert len(meta.received) == 1 + 2 * 4
    assert [got.event_ids for got in meta.received if got.status == 400][-1] == [bad]


def test_a_refusal_of_the_whole_request_is_not_split(database_url: str) -> None:
    expired = (
        400,
        {
            "error": {
                "message": "Error validating access token: Session has expired",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 463,
            }
        },
        {},
    )
    no_pixel = (
        400,
        {"error": {"message": "Unsupported post request.", "code": 100, "error_subcode": 33}},
        {},
    )
    for done, answer in enumerate((expired, no_pixel)):
        events = [fresh_event("PageView", fbp=FBP) for _ in range(4)]
        failed = 4 * (done + 1)  # one database for both rounds: the first round's 4 stay failed
        with (
            graph_standin(answer) as meta,
            running_collector(database_url, capi=settings(meta.url)) as collector,
        ):
            assert post(collector.url, {"events": events}, headers=AGENT).status == 200
            wait_until(lambda expected=failed: status(collector).failed == expected)
            time.sleep(0.3)
            assert [len(got.event_ids) for got in meta.received] == [4]


def test_splitting_a_batch_every_event_of_which_is_refused_is_bounded(
    database_url: str,
) -> None:
    events = [fresh_event("PageView", fbp=FBP) for _ in range(64)]
    with (
        graph_standin(refused=frozenset(e["event_id"] for e in events)) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert post(collector.url, {"events": events}, headers=AGENT).status == 200
        wait_until(lambda: status(collector).failed == 64)
        time.sleep(0.3)
        requests = len(meta.received)
    assert requests == 1 + split_budget(64)  # 37, not the 127 of halving down to each event
    assert meta.delivered() == []


def test_meta_going_down_while_a_batch_is_split_loses_nothing(database_url: str) -> None:
    events = [fresh_event("PageView", fbp=FBP) for _ in range(4)]
    bad = events[0]["event_id"]
    down = (503, {"error": {"message": "Service temporarily unavailable", "code": 2}}, {})
    with (
        graph_standin(INVALID_EVENT, down, refused=frozenset({bad})) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert post(collector.url, {"events": events}, headers=AGENT).status == 200
        wait_until(lambda: status(collector).sent == 3 and status(collector).failed == 1)
    # The whole batch refused, its first half met the outage (both halves wait), then the
    # batch went again: refused, halved, the bad event isolated, the others sent once each.
    assert [got.status for got in meta.received][:2] == [400, 503]
    assert sorted(meta.delivered()) == sorted(e["event_id"] for e in events[1:])


def dump(database_url: str) -> str:
    """Every row of the events and outbox tables, as text."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(database_url)) as connection:
            return "\n".join(connection.iterdump())
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT row_to_json(e)::text FROM aae_events e"
            " UNION ALL SELECT row_to_json(o)::text FROM aae_capi_outbox o"
        ).fetchall()
    return "\n".join(row[0] for row in rows)


def test_the_access_token_is_never_stored_or_printed(database_url: str) -> None:
    echo = {"error": {"message": f"Malformed access token {ACCESS}", "code": 190}}
    flaky = (503, {"error": {"message": f"token {ACCESS} rate"}}, {})
    events = [fresh_event("PageView", fbp=FBP) for _ in range(2)]
    config = settings("http://127.0.0.1:1")
    assert ACCESS not in repr(config)
    with graph_standin(flaky, (401, echo, {})) as meta:
        capi = settings(meta.url)
        with running_collector(database_url, capi=capi) as collector:
            assert post(collector.url, {"events": events}, headers=AGENT).status == 200
            wait_until(lambda: status(collector).failed == 2)
            last = status(collector).last_error or ""
            assert last == "Meta answered 401: Malformed access token *** (code 190)"
            lines = "\n".join(collector.lines)
            assert "token *** rate" in lines
            assert ACCESS not in lines
            assert ACCESS not in repr(collector.service.config)
    saved = dump(database_url)
    assert ACCESS not in saved
    assert "Malformed access token ***" in saved


@pytest.mark.parametrize("kind", ["pixel only", "token only", "bad pixel", "bad version"])
def test_settings_name_what_is_missing_or_wrong(kind: str) -> None:
    environ = {
        "pixel only": {"AAE_CAPI_PIXEL_ID": PIXEL},
        "token only": {"AAE_CAPI_ACCESS_TOKEN": ACCESS},
        "bad pixel": {"AAE_CAPI_PIXEL_ID": "px-1", "AAE_CAPI_ACCESS_TOKEN": ACCESS},
        "bad version": {
            "AAE_CAPI_PIXEL_ID": PIXEL,
            "AAE_CAPI_ACCESS_TOKEN": ACCESS,
            "AAE_CAPI_API_VERSION": "21",
        },
    }[kind]
    expected = {
        "pixel only": "needs the access token in AAE_CAPI_ACCESS_TOKEN",
        "token only": "AAE_CAPI_ACCESS_TOKEN is set but no Pixel id",
        "bad pixel": "AAE_CAPI_PIXEL_ID must be digits",
        "bad version": "AAE_CAPI_API_VERSION must be like v21.0",
    }[kind]
    with pytest.raises(ValueError, match=expected) as raised:
        CapiSettings.from_environment(environ)
    assert ACCESS not in str(raised.value)


def test_the_backoff_is_jittered_under_an_exponential_ceiling_and_honours_retry_after() -> None:
    config = settings("http://127.0.0.1:1", backoff=2.0, max_backoff=60.0)
    for attempts, ceiling in ((0, 2.0), (1, 4.0), (3, 16.0), (10, 60.0), (500, 60.0)):
        delays = [backoff_delay(config, attempts, None) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2  # spread over the range, not a constant
    assert all(backoff_delay(config, 0, 30.0) >= 30.0 for _ in range(50))
    assert backoff_delay(config, 0, 10**9) <= 3600.0  # one Retry-After pauses at most an hour


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_the_dashboard_shows_what_is_pending_sent_and_failed(database_url: str) -> None:
    """The dashboard's Forwarding panel reads the outbox: Meta refusing one event (failed, with
    its message) and taking the next (sent); a collector that does not forward has no panel."""
    refused = (400, {"error": {"message": "Invalid <parameter>", "code": 100}}, {})
    with (
        graph_standin(refused) as meta,
        running_collector(database_url, capi=settings(meta.url)) as collector,
    ):
        assert post(collector.url, fresh_event("PageView", fbp=FBP), headers=AGENT).status == 200
        wait_until(lambda: status(collector).failed == 1)
        assert post(collector.url, fresh_event("PageView", fbp=FBP), headers=AGENT).status == 200
        wait_until(lambda: status(collector).sent == 1)
        tree = lxml.html.fromstring(request(collector.url, "GET", "/").body.decode())
        shown = {
            name: tree.xpath(f"string(//*[@data-field='outbox_{name}'])")
            for name in ("pending", "sent", "failed", "last_error")
        }
        assert shown == {
            "pending": "0",
            "sent": "1",
            "failed": "1",
            "last_error": "Meta answered 400: Invalid <parameter> (code 100)",
        }
    with running_collector(database_url) as plain:
        assert "Forwarding" not in request(plain.url, "GET", "/").body.decode()


def test_sent_rows_are_pruned_after_keep_sent(database_url: str) -> None:
    """With ``keep_sent`` 0 an idle round deletes the sent row; the event stays stored and a
    resent copy is neither stored nor forwarded again."""
    with graph_standin() as meta:
        fast = settings(meta.url, keep_sent=0.0, prune_interval=0.05)
        with running_collector(database_url, capi=fast) as collector:
            event = fresh_event("Purchase", fbp=FBP)
            page_view = fresh_event("PageView", fbp=FBP)
            assert post(collector.url, {"events": [page_view, event]}, headers=AGENT).status == 200
            wait_until(lambda: len(meta.received) == 1)
            wait_until(lambda: status(collector) == OutboxStatus())  # sent, then pruned
            assert post(collector.url, event, headers=AGENT).json() == {
                "accepted": 0,
                "duplicates": 1,
            }
            time.sleep(0.3)
            assert len(meta.received) == 1
            assert status(collector) == OutboxStatus()


# ``AAE_CAPI_GRAPH_URL`` that ``urllib`` cannot split (an unclosed ``[``): the one-line error
# names the variable, as for every other bad value of it, rather than urllib's bare
# "Invalid IPv6 URL" (which ``aae-tracking collect`` printed without saying which setting).


def test_an_unsplittable_graph_url_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"^AAE_CAPI_GRAPH_URL must be an http\(s\) URL"):
        CapiSettings.from_environment(
            {
                "AAE_CAPI_PIXEL_ID": "123",
                "AAE_CAPI_ACCESS_TOKEN": "t0ken",
                "AAE_CAPI_GRAPH_URL": "http://[graph.internal",
            }
        )


# ``post_events`` never raises for what the network or Meta does (its docstring): an endpoint
# (or a proxy in front of it) that answers something that is not HTTP is "no answer" (status 0,
# retried with backoff), like a refused connection. Before, ``http.client.BadStatusLine`` (an
# ``HTTPException``, not an ``OSError``) escaped it: the forwarder's round failed with a
# generic warning and paused ``max_backoff`` (15 minutes) with its rows left claimed.


@contextmanager
def not_http_server(reply: bytes) -> Iterator[str]:
    """A loopback server that reads one request and answers ``reply``, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("reply", [b"garbage that is not HTTP\r\n\r\n", b"HTTP/1.1 2"])
def test_an_answer_that_is_not_http_is_no_answer(reply: bytes) -> None:
    with not_http_server(reply) as url:
        settings = CapiSettings(pixel_id="123", access_token="t0ken-s3cret", graph_url=url)
        answer = post_events(settings, [{"event_name": "PageView", "event_id": "e1"}])
    assert answer.status == 0
    assert answer.error is not None
    assert answer.error.startswith(f"cannot reach {settings.endpoint}: ")
    assert "s3cret" not in answer.error


# The Conversions API request must not follow a redirect: urllib turns a POST answered 301,
# 302 or 303 into a GET without the body, so the events never reach Meta; when the place it
# is sent to answers that GET with 200 (a proxy's or a portal's page), the rows were marked
# ``sent``: lost without a word. A redirect is now the answer itself (not 2xx: not sent).


class _Redirecting(BaseHTTPRequestHandler):
    gets: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(302)
        self.send_header("Location", "/landing")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        _Redirecting.gets.append(self.path)
        body = b"<html>welcome</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def redirecting_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("code", [302])
def test_a_redirect_is_not_followed_and_not_taken_for_sent(code: int) -> None:
    with redirecting_server() as url:
        settings = CapiSettings(pixel_id="123", access_token="t0ken-s3cret", graph_url=url)
        answer = post_events(settings, [{"event_name": "PageView", "event_id": "e1"}])
    assert answer.status == code
    assert _Redirecting.gets == []  # no GET of the redirect's target
    assert answer.error is not None
    assert answer.error.startswith(f"Meta answered {code}")
