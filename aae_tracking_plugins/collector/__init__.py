"""Local development collector for landing-page tracking events.

The tracker POSTs events to ``{api_base_url}/api/v1/landing-pages/events`` as a
``text/plain`` JSON body (CORS-simple: no preflight), normally with
``fetch(..., {keepalive: true})`` in CORS mode, which reads the status and
``Retry-After``, and with ``navigator.sendBeacon`` (``no-cors``) where a beacon
helps.  This module is a small stand-in for the real API (standard library plus the
package's own ``jsonschema`` dependency); the contract it implements is documented in
docs/collector-cors.md:

* :func:`validate_event` checks one event against the wire contract and
  :func:`validate_payload` a whole body (one event or ``{"events": [...]}``);
  both return human-readable problems (empty list when valid).  They are
  :mod:`aae_tracking_plugins.core.contract`'s, re-exported: the JSON Schema
  ``aae_tracking_plugins/core/schema/events.schema.json`` is the one definition of
  every event type (the five standard ones and custom events) and of the batch.
* :class:`EventCollector` is an HTTP server (stdlib ``ThreadingHTTPServer``) that
  accepts valid events, de-duplicates them by ``event_id``, answers CORS
  preflights, can fail on purpose (:meth:`EventCollector.fail`, ``delay``,
  ``drop_connections``), records every delivery attempt, and lets tests block
  until events arrive (:meth:`EventCollector.wait_for`).
* ``python -m aae_tracking_plugins.collector`` runs it from the command line and
  prints one line per accepted (or duplicate) event.

HTTP behaviour of ``EVENTS_PATH``:

* ``POST`` with ``text/plain`` or ``application/json`` body (charset UTF-8 or
  none) of at most 64 KiB holding one event or a batch of 1-100: 200
  ``{"accepted": N, "duplicates": D}`` (repeats of a stored ``event_id`` are
  acknowledged, not stored), 400 invalid JSON, 413 too large, 415 other content
  type, 422 ``{"errors": [...]}`` for shape problems (a batch is refused whole,
  each problem prefixed ``events[i].``).
* ``OPTIONS`` (CORS preflight): 204 with the ``Access-Control-*`` headers, incl.
  ``Access-Control-Allow-Private-Network: true`` when asked for.
* ``GET``: JSON list of accepted events.

Every response to a request with an ``Origin`` header echoes that origin in
``Access-Control-Allow-Origin`` together with ``Access-Control-Allow-Credentials:
true`` (``sendBeacon`` always sends credentials, so ``*`` would be refused),
``Access-Control-Expose-Headers: Retry-After`` (so a CORS-mode ``fetch`` can read
it) and ``Vary: Origin``.  ``GET /healthz`` answers ``ok``; other paths 404;
other methods 405.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import errno
import io
import json
import math
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from aae_tracking_plugins.core.contract import (
    STANDARD_EVENT_TYPES,
    event_type_problem,
    validate_event,
    validate_payload,
)

__all__ = [
    "EVENTS_PATH",
    "EVENT_TYPES",
    "HEALTH_PATH",
    "MAX_BATCH_EVENTS",
    "MAX_BODY_BYTES",
    "Attempt",
    "EventCollector",
    "format_event_line",
    "main",
    "validate_event",
    "validate_payload",
]

EVENTS_PATH = "/api/v1/landing-pages/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 64 * 1024
MAX_BATCH_EVENTS = 100
#: The event types the tracker sends itself (the schema's ``StandardEventType``). The collector
#: also accepts custom events, whose ``event_type`` is their name (see :mod:`.contract`).
EVENT_TYPES: tuple[str, ...] = STANDARD_EVENT_TYPES

Event = dict[str, Any]

_ACCEPTED_MEDIA_TYPES = frozenset({"text/plain", "application/json"})
_POLL_SECONDS = 0.5  # serve_forever() checks for shutdown this often when idle


# --------------------------------------------------------------------------- validation
# validate_event / validate_payload are re-exported from .contract: the JSON Schema shipped in
# aae_tracking_plugins/core/schema/events.schema.json is the one definition of the wire contract.


def _is_batch(obj: object) -> bool:
    return isinstance(obj, dict) and "events" in obj


def _payload_events(obj: object) -> list[object]:
    """The events a decoded body holds (best effort, for the attempts log)."""
    if _is_batch(obj):
        assert isinstance(obj, dict)
        events = obj["events"]
        return list(events) if isinstance(events, list) else []
    return [obj] if isinstance(obj, dict) else []


def _event_ids(events: list[object]) -> tuple[str, ...]:
    return tuple(
        event["event_id"]
        for event in events
        if isinstance(event, dict) and isinstance(event.get("event_id"), str)
    )


# --------------------------------------------------------------------------- formatting


def _clean(value: object) -> str:
    """Text for a log line: never spans lines, control characters escaped."""
    text = value if isinstance(value, str) else json.dumps(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


_WEB_VITALS = ("lcp", "cls", "inp", "fcp", "ttfb")
_NOT_PROPS = frozenset({"url", "timestamp", "variant", "fbp", "fbc"})


def _event_details(event: Mapping[str, Any]) -> str:
    """The interesting ``event_data`` fields of an event as ``key=value`` pairs."""
    data = event.get("event_data")
    if not isinstance(data, dict):
        return ""
    event_type = event.get("event_type")
    url = f"url={_clean(data.get('url'))}"
    if event_type == "PageView":
        parts = [url]
        if data.get("referrer"):
            parts.append(f"referrer={_clean(data['referrer'])}")
    elif event_type == "AddToCart":
        text = data.get("button_text")
        shown = ascii(text) if isinstance(text, str) and not text.isprintable() else repr(text)
        parts = [f"button_text={shown}", f"button_id={_clean(data.get('button_id'))}"]
    elif event_type == "Purchase":
        parts = [f"{key}={_clean(data.get(key))}" for key in ("value", "currency", "order_id")]
    elif event_type == "Engagement":
        parts = [url, *(f"{key}={_clean(data.get(key))}" for key in ("engaged_ms", "scroll_depth"))]
    elif event_type == "WebVitals":
        parts = [url]
        parts.extend(
            f"{name}={_clean(data[name])} ({_clean(data.get(f'{name}_rating'))})"
            for name in _WEB_VITALS
            if name in data
        )
    else:  # a custom event: its props are the keys besides url, timestamp, variant, fbp, fbc
        parts = [url]
        parts.extend(f"{key}={_clean(val)}" for key, val in data.items() if key not in _NOT_PROPS)
    if "variant" in data:
        parts.append(f"variant={_clean(data['variant'])}")
    return "  ".join(parts)


def format_event_line(event: Mapping[str, Any], received_at: float | None = None) -> str:
    """One log line for an accepted event, e.g.

    ``12:00:01  PageView    lp_123 / camp_456  sess_1_abc  url=http://example.test/``

    Details by type: PageView ``url`` (and ``referrer``), AddToCart ``button_text`` and
    ``button_id``, Purchase ``value``, ``currency``, ``order_id``, Engagement ``url``,
    ``engaged_ms``, ``scroll_depth``, WebVitals ``url`` and each metric with its rating
    (``lcp=1234 (good)``), a custom event ``url`` and its props; then ``variant`` if any.
    ``received_at`` is a ``time.time()`` value shown as local ``HH:MM:SS``
    (now when omitted).  A null campaign is shown as ``-``.
    """
    clock = time.strftime("%H:%M:%S", time.localtime(received_at))
    campaign = event.get("campaign_id")
    return (
        f"{clock}  {_clean(event.get('event_type')):<11} "
        f"{_clean(event.get('landing_page_id'))} / "
        f"{'-' if campaign is None else _clean(campaign)}  "
        f"{_clean(event.get('session_id'))}  {_event_details(event)}"
    ).rstrip()


def _summary(event: Mapping[str, Any]) -> str:
    return format_event_line(event)[10:]  # without the clock


# --------------------------------------------------------------------------- HTTP server


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status {status}"


class _InvalidConstantError(ValueError):
    pass


def _loads_quietly(body: bytes) -> object:
    """The decoded body, or None when it is not JSON (for the attempts log only)."""
    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _ignore(status: int, message: str) -> None:
    """Stand-in for an answer that is not sent."""


@dataclass(frozen=True)
class _Failure:
    status: int | None  # None: drop the connection without an answer
    retry_after: str | None = None
    store: bool = False  # drop only: store valid events first (a lost answer)


@dataclass(frozen=True)
class _Plan:
    """How one request is treated, decided when it arrives."""

    failure: _Failure | None
    delay: float
    wake: threading.Event  # set by recover()/stop() to end the delay early


def _reject_constant(name: str) -> object:
    raise _InvalidConstantError(f"{name} is not valid JSON")


class _CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when a page sends a burst

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a closed tab, a dropped test connection) is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], collector: EventCollector) -> None:
        self.collector = collector
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _CollectorHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a reverse DNS lookup (socket.getfqdn) that
        # can take seconds on some machines; it is only used for SERVER_NAME.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


def _shutdown_promptly(server: socketserver.TCPServer) -> None:
    """``server.shutdown()`` without waiting up to a poll interval.

    ``shutdown()`` only raises a flag that ``serve_forever()`` checks when its
    ``select()`` returns; a throw-away connection makes it return at once.
    """
    stopper = threading.Thread(target=server.shutdown, name="collector-shutdown", daemon=True)
    stopper.start()
    host, port = server.server_address[:2]
    wake_host = "::1" if host == "::" else "127.0.0.1" if host in ("", "0.0.0.0") else host
    for _ in range(50):
        stopper.join(0.01)
        if not stopper.is_alive():
            return
        with contextlib.suppress(OSError):
            socket.create_connection((str(wake_host), int(port)), timeout=0.2).close()
    stopper.join()


class _CollectorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aae-collector/1"
    timeout = 15.0  # seconds a client may stall mid-request
    _attempt: int | None = None  # index in collector.attempts while a POST is handled

    # -- plumbing

    @property
    def _collector(self) -> EventCollector:
        server = self.server
        assert isinstance(server, _CollectorServer)
        return server.collector

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def version_string(self) -> str:
        return self.server_version

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors raised by ``http.server`` itself (malformed requests, unknown methods)."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            # "Unsupported method": any method without a do_* handler is a 405.
            self._not_allowed_or_missing(self._path())
            return
        self._collector._record_rejection(code, message or _phrase(code))
        super().send_error(code, message, explain)

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _cors_headers(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
            self.send_header("Vary", "Origin")
            # A CORS-mode fetch may read only safelisted response headers unless
            # exposed; the tracker needs Retry-After to schedule its retry.
            self.send_header("Access-Control-Expose-Headers", "Retry-After")

    def _respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        reason: str = "",
        unread_body: bool = False,
    ) -> None:
        """Send a complete response.

        ``unread_body``: the request body was not (fully) read, so the connection
        is closed after the answer, lingering to swallow what the client still
        sends: closing a socket with unread input makes the kernel send a reset,
        and the client may then see ECONNRESET instead of this answer.
        """
        if status >= 400:
            self._collector._record_rejection(status, reason or _phrase(status))
        if self._attempt is not None:
            self._collector._end_attempt(self._attempt, outcome="answered", status=int(status))
        self.send_response(status)
        self._cors_headers()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        has_body = status not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        if has_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
        if unread_body or not self._collector.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if has_body and body and self.command != "HEAD":
            self.wfile.write(body)
        if unread_body:
            self._linger()

    def _respond_error(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        unread_body: bool = False,
    ) -> None:
        self._respond(
            status,
            json.dumps({"error": message}).encode(),
            headers=headers,
            reason=message,
            unread_body=unread_body,
        )

    def _linger(self, seconds: float = 2.0, limit: int = 64 * MAX_BODY_BYTES) -> None:
        """Half-close, then discard input until EOF, ``limit`` bytes or ``seconds``."""
        conn = self.connection
        try:
            self.wfile.flush()
            conn.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + seconds
            while limit > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                conn.settimeout(remaining)
                chunk = conn.recv(min(limit, 65536))
                if not chunk:
                    break
                limit -= len(chunk)
        except OSError:
            pass

    def _skip_body(self) -> bool:
        """Read and drop a small body with a known length; False if it was left unread."""
        length = self._content_length()
        if length is None:
            return "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
        if not 0 <= length <= MAX_BODY_BYTES:
            return False
        try:
            return len(self.rfile.read(length)) == length
        except OSError:
            return False

    def _content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        raw = raw.strip()
        if not raw.isdigit():
            return -1
        return int(raw)

    # -- methods

    def do_GET(self) -> None:
        path = self._path()
        if path == HEALTH_PATH:
            self._respond(HTTPStatus.OK, b"ok", content_type="text/plain; charset=utf-8")
        elif path == EVENTS_PATH:
            body = json.dumps(self._collector.events, ensure_ascii=False).encode()
            self._respond(HTTPStatus.OK, body, content_type="application/json; charset=utf-8")
        else:
            self._respond_error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_OPTIONS(self) -> None:
        path = self._path()
        if path != EVENTS_PATH:
            self._not_allowed_or_missing(path)
            return
        headers = {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
            "Allow": "GET, HEAD, POST, OPTIONS",
        }
        self._collector._count_preflight()
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        self._respond(HTTPStatus.NO_CONTENT, headers=headers, unread_body=not self._skip_body())

    def do_POST(self) -> None:
        path = self._path()
        if path != EVENTS_PATH:
            self._not_allowed_or_missing(path)
            return
        collector = self._collector
        self._attempt = collector._begin_attempt(
            self.headers.get("Origin"), self.headers.get("Sec-Fetch-Mode")
        )
        try:
            self._post(collector, collector._take_plan())
        finally:
            collector._settle_attempt(self._attempt)
            self._attempt = None

    def _post(self, collector: EventCollector, plan: _Plan) -> None:
        body, error = self._read_body()
        if body is None and error is None:
            self.close_connection = True
            return  # client went away mid-body
        obj = _loads_quietly(body) if body is not None else None
        if body is not None:
            collector._note_body(self._attempt, _payload_events(obj))
        if plan.delay > 0:
            collector._note_delay(self._attempt, plan.delay)
            plan.wake.wait(plan.delay)

        failure = plan.failure
        if failure is not None and failure.status is None:  # drop_connections()
            if failure.store and body is not None and error is None:
                self._process(body, answer=False)
            self._drop_connection()
            return
        if failure is not None:
            assert failure.status is not None
            self._respond_error(
                failure.status,
                f"collector configured to fail with {failure.status}",
                headers={} if failure.retry_after is None else {"Retry-After": failure.retry_after},
                unread_body=body is None,
            )
            return
        if error is not None:
            self._respond_error(error[0], error[1], unread_body=True)
            return
        assert body is not None
        self._process(body)

    def _read_body(self) -> tuple[bytes | None, tuple[int, str] | None]:
        """``(body, None)``; ``(None, (status, message))`` when the body is left
        unread because its framing is refused; ``(None, None)`` when the client
        went away mid-body."""
        length = self._content_length()
        if length is None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return None, (HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
            length = 0
        if length < 0:
            return None, (HTTPStatus.BAD_REQUEST, "invalid Content-Length")
        if length > MAX_BODY_BYTES:
            return None, (
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the {MAX_BODY_BYTES} byte limit",
            )
        try:
            body = self.rfile.read(length)
        except OSError:
            return None, None
        return (body, None) if len(body) == length else (None, None)

    def _process(self, body: bytes, *, answer: bool = True) -> None:
        """Check and store a body; answer unless ``answer`` is false (then only store)."""
        respond = self._respond_error if answer else _ignore
        problem = _content_type_problem(self.headers.get("Content-Type"))
        if problem:
            respond(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, problem)
            return
        try:
            text = body.decode("utf-8-sig")
            obj = json.loads(text, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            respond(HTTPStatus.BAD_REQUEST, f"invalid JSON: {exc}")
            return

        errors = validate_payload(obj)
        if errors:
            if answer:
                self._respond(
                    HTTPStatus.UNPROCESSABLE_ENTITY,
                    json.dumps({"errors": errors}).encode(),
                    reason="; ".join(errors),
                )
            return
        events = [event for event in _payload_events(obj) if isinstance(event, dict)]
        accepted, duplicates = self._collector._store(events, self._attempt)
        if answer:
            self._respond(
                HTTPStatus.OK,
                json.dumps({"accepted": accepted, "duplicates": duplicates}).encode(),
            )

    def _drop_connection(self) -> None:
        """Close the connection without an answer: a network error to the client."""
        self._collector._end_attempt(self._attempt, outcome="dropped")
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _not_allowed_or_missing(self, path: str) -> None:
        unread_body = not self._skip_body()
        if path == EVENTS_PATH:
            allow = "GET, HEAD, POST, OPTIONS"
        elif path == HEALTH_PATH:
            allow = "GET, HEAD"
        else:
            self._respond_error(
                HTTPStatus.NOT_FOUND, f"no such path: {path}", unread_body=unread_body
            )
            return
        self._respond(
            HTTPStatus.METHOD_NOT_ALLOWED,
            json.dumps({"error": f"{self.command} not allowed on {path}"}).encode(),
            headers={"Allow": allow},
            reason=f"{self.command} not allowed on {path}",
            unread_body=unread_body,
        )

    def do_PUT(self) -> None:
        self._not_allowed_or_missing(self._path())

    def do_PATCH(self) -> None:
        self._not_allowed_or_missing(self._path())

    def do_DELETE(self) -> None:
        self._not_allowed_or_missing(self._path())

    def do_TRACE(self) -> None:
        self._not_allowed_or_missing(self._path())


def _content_type_problem(header: str | None) -> str:
    """Empty when ``header`` is text/plain or application/json in UTF-8 (or no charset)."""
    if header is None:
        return "Content-Type is required (text/plain or application/json)"
    media_type, *params = (part.strip() for part in header.split(";"))
    if media_type.lower() not in _ACCEPTED_MEDIA_TYPES:
        return f"unsupported Content-Type {header!r}: use text/plain or application/json"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                return f"unsupported charset {charset!r}: use UTF-8"
    return ""


# --------------------------------------------------------------------------- collector


AttemptOutcome = Literal["pending", "answered", "dropped", "aborted"]


@dataclass(frozen=True)
class Attempt:
    """One ``POST`` to the events path, as the collector saw it (``collector.attempts``).

    ``at`` is ``time.monotonic()`` when the request's headers had arrived (use it
    for intervals: "no more than N requests a minute"), ``wall_time`` the same
    moment as ``time.time()``.  ``outcome`` is ``"pending"`` while the request is
    handled (e.g. held by :meth:`EventCollector.delay`), then ``"answered"``
    (``status`` is the status sent), ``"dropped"`` (closed without an answer by
    :meth:`EventCollector.drop_connections`) or ``"aborted"`` (the client went
    away before an answer).  ``events`` is how many events the body held (1 for a
    single event, the array's length for a batch, 0 when the body was not read or
    is not JSON) and ``event_ids`` their string ``event_id`` values in body order,
    also for requests that were refused or failed on purpose.  ``accepted`` and
    ``duplicates`` count the events this request stored and those acknowledged as
    repeats of an already stored ``event_id``.  ``delayed`` is the wait added by
    :meth:`EventCollector.delay` (seconds).  ``origin`` and ``fetch_mode`` are the
    ``Origin`` and ``Sec-Fetch-Mode`` request headers (``"cors"`` for a CORS-mode
    ``fetch``, ``"no-cors"`` for ``sendBeacon``), None when absent.
    """

    at: float
    wall_time: float
    outcome: AttemptOutcome = "pending"
    status: int | None = None
    events: int = 0
    event_ids: tuple[str, ...] = ()
    accepted: int = 0
    duplicates: int = 0
    delayed: float = 0.0
    origin: str | None = None
    fetch_mode: str | None = None


def _check_status(name: str, status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"{name} must be an HTTP error status (400-599), got {status!r}")
    return status


def _check_times(times: object) -> int | None:
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times must be None (until recover()) or an int >= 1, got {times!r}")
    return times


def _retry_after_value(retry_after: int | str | datetime | None) -> str | None:
    if retry_after is None:
        return None
    if isinstance(retry_after, datetime):
        if retry_after.utcoffset() is None:
            raise ValueError(f"retry_after datetime must be timezone-aware, got {retry_after!r}")
        return format_datetime(retry_after.astimezone(timezone.utc), usegmt=True)
    if isinstance(retry_after, bool) or not isinstance(retry_after, (int, str)):
        raise ValueError(f"retry_after must be an int, str or datetime, got {retry_after!r}")
    if isinstance(retry_after, int):
        if retry_after < 0:
            raise ValueError(f"retry_after seconds must be >= 0, got {retry_after!r}")
        return str(retry_after)
    if not retry_after.isprintable():
        raise ValueError(f"retry_after must be printable header text, got {retry_after!r}")
    return retry_after


class EventCollector:
    """A local events endpoint that stores what the tracker sends.

    ``EventCollector()`` binds 127.0.0.1 on a free port when started::

        with EventCollector() as collector:
            configure(api_base_url=collector.url)
            ...
            events = collector.wait_for_count(1, "PageView")

    A ``POST`` body is one event or a batch ``{"events": [...]}`` (see
    :func:`validate_payload`); a valid one is answered ``200`` with
    ``{"accepted": N, "duplicates": D}``.  Events are de-duplicated by
    ``event_id``: an event whose id was already stored (earlier, in another
    batch, or earlier in the same batch) is acknowledged the same way but not
    stored again, and counted in :attr:`duplicates`.

    ``echo`` receives one line per stored event (see :func:`format_event_line`)
    and one per duplicate (the same line plus ``(duplicate, not stored)``);
    ``on_event`` receives each stored event dict, never a duplicate (the CLI uses
    it for ``--jsonl``).  Callbacks run on the request threads, one at a time.

    Failure modes, for tests of the tracker's retries.  They apply to ``POST`` on
    the events path only (preflights, ``GET`` and ``/healthz`` stay normal), are
    decided per request when it arrives (thread-safe: concurrent requests each
    take one of ``times``), and may be changed while the collector runs:

    * :meth:`fail` ``(status=503, times=None, retry_after=None)``: answer
      ``status`` (400-599) with ``{"error": ...}`` and, when given, a
      ``Retry-After`` header (int seconds, a datetime sent as an HTTP date, or a
      string sent verbatim), storing nothing.
    * :meth:`drop_connections` ``(times=None, store=False)``: read the request,
      then close the connection without an answer, which a browser reports as a
      network error.  ``store=True`` stores valid events first (an answer lost on
      its way back).
    * :meth:`delay` ``(seconds, times=None)``: hold each request ``seconds``
      before handling it (then normally, or as :meth:`fail` /
      :meth:`drop_connections` say).  Other requests are served meanwhile.
    * :meth:`recover`: back to normal; also ends the waits of delayed requests
      in flight (they are then handled as decided when they arrived).

    ``times=None`` lasts until :meth:`recover`; an int applies to that many
    requests, then the collector is normal again.  :attr:`attempts` records every
    ``POST`` to the events path (:class:`Attempt`: time, outcome, status, events,
    event ids), so tests can assert bounded retries and exactly-once arrival;
    :meth:`wait_for_attempts` blocks until some are finished.

    ``fail_with`` (constructor argument and attribute; an error status or None)
    is the older spelling of ``fail(status)`` / ending that failure.

    ``keep_alive=False`` (also an attribute) closes every connection after its
    answer.  Browsers silently resend a request, once, when a *reused*
    keep-alive connection closes without an answer (Chromium does), so with
    keep-alive one dropped send shows as two attempts and ``drop_connections(1)``
    is invisible to the page; without keep-alive each drop is exactly one
    network error to the page.

    Raises ``ValueError`` for an invalid status, ``times``, ``seconds`` or
    ``retry_after``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        echo: Callable[[str], None] | None = None,
        fail_with: int | None = None,
        on_event: Callable[[Event], None] | None = None,
        keep_alive: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.keep_alive = keep_alive
        self.echo = echo
        self.on_event = on_event
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._rejected: list[tuple[int, str]] = []
        self._attempts: list[Attempt] = []
        self._seen_ids: set[str] = set()
        self._duplicates = 0
        self._preflights = 0
        self._failure: _Failure | None = None
        self._failure_left: int | None = None
        self._delay = 0.0
        self._delay_left: int | None = None
        self._wake = threading.Event()
        self.fail_with = fail_with
        self._output_lock = threading.Lock()
        self._server: _CollectorServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> EventCollector:
        """Bind and serve in a daemon thread; raises ``OSError`` if the port is taken."""
        if self._server is not None:
            raise RuntimeError("collector already started")
        server = _CollectorServer((self.host, self.port), self)
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"aae-collector-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call more than once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = None
        self._thread = None
        with self._cond:  # delayed requests stop waiting
            self._wake.set()
            self._wake = threading.Event()
        _shutdown_promptly(server)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> EventCollector:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        """Base URL to configure as ``api_base_url``, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None and self.port == 0:
            raise RuntimeError("collector not started: no port yet")
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def events_url(self) -> str:
        """Full URL the tracker posts to."""
        return self.url + EVENTS_PATH

    # -- recorded data

    @property
    def events(self) -> list[Event]:
        """A copy of the accepted events, oldest first."""
        with self._cond:
            return copy.deepcopy(self._events)

    @property
    def rejected(self) -> list[tuple[int, str]]:
        """``(status, reason)`` for every refused request, oldest first."""
        with self._cond:
            return list(self._rejected)

    @property
    def duplicates(self) -> int:
        """How many events were acknowledged as repeats of a stored ``event_id``."""
        with self._cond:
            return self._duplicates

    @property
    def preflights(self) -> int:
        """How many CORS preflights (``OPTIONS`` on the events path) arrived.

        The tracker's requests are CORS-simple, so this stays 0 for it.
        """
        with self._cond:
            return self._preflights

    @property
    def attempts(self) -> list[Attempt]:
        """Every ``POST`` to the events path (:class:`Attempt`), in order of arrival."""
        with self._cond:
            return list(self._attempts)

    def clear(self) -> None:
        """Forget stored events, rejections, attempts, preflights and seen ``event_id`` values.

        The failure mode (:meth:`fail`, :meth:`delay`, ...) is kept.
        """
        with self._cond:
            self._events.clear()
            self._rejected.clear()
            self._attempts.clear()
            self._seen_ids.clear()
            self._duplicates = 0
            self._preflights = 0

    # -- failure modes

    def fail(
        self,
        status: int = 503,
        times: int | None = None,
        retry_after: int | str | datetime | None = None,
    ) -> None:
        """Answer ``POST`` requests with ``status`` (400-599) without storing anything.

        ``times``: that many requests, None = until :meth:`recover`.
        ``retry_after``: seconds (int >= 0), an aware datetime (sent as an HTTP
        date) or a string sent as is (e.g. garbage, to test the client); None
        sends no ``Retry-After``.  Replaces an active fail/drop mode; a
        :meth:`delay` stays.  Raises ``ValueError`` for bad arguments.
        """
        failure = _Failure(_check_status("status", status), _retry_after_value(retry_after))
        self._set_failure(failure, _check_times(times))

    def drop_connections(self, times: int | None = None, *, store: bool = False) -> None:
        """Close ``POST`` connections without an answer (a network error to a browser).

        The request is read first.  ``store=True`` stores its valid events before
        dropping (de-duplicated as usual): the answer is lost, not the events.
        ``times`` as in :meth:`fail`.  Browsers resend a request on their own,
        once, when a reused keep-alive connection closes without an answer: use
        ``keep_alive=False`` when each drop must reach the page (see the class).
        """
        self._set_failure(_Failure(None, store=store), _check_times(times))

    def delay(self, seconds: float, times: int | None = None) -> None:
        """Hold each ``POST`` ``seconds`` before handling it; ``delay(0)`` ends this.

        Only the delayed request's thread waits: other requests are served
        meanwhile.  ``times`` as in :meth:`fail`.  Raises ``ValueError`` unless
        ``seconds`` is a finite number >= 0.
        """
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        times = _check_times(times)
        with self._cond:
            self._delay = float(seconds)
            self._delay_left = times if seconds > 0 else None

    def recover(self) -> None:
        """Back to normal: no failure, no delay; delayed requests in flight stop waiting."""
        with self._cond:
            self._failure = self._failure_left = None
            self._delay, self._delay_left = 0.0, None
            self._wake.set()
            self._wake = threading.Event()

    @property
    def fail_with(self) -> int | None:
        """The status of the active :meth:`fail` mode, None when not failing that way.

        Setting a status is ``fail(status)``; setting None ends a fail/drop mode.
        """
        with self._cond:
            failure = self._failure
        return failure.status if failure is not None else None

    @fail_with.setter
    def fail_with(self, status: int | None) -> None:
        if status is None:
            self._set_failure(None, None)
        else:
            self._set_failure(_Failure(_check_status("fail_with", status)), None)

    def _set_failure(self, failure: _Failure | None, times: int | None) -> None:
        with self._cond:
            self._failure, self._failure_left = failure, times

    def wait_for_attempts(self, n: int, timeout: float = 10.0) -> list[Attempt]:
        """Block until at least ``n`` attempts are finished (not pending); return all.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                done = [a for a in self._attempts if a.outcome != "pending"]
                if len(done) >= n:
                    return list(self._attempts)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"timed out after {timeout:g}s waiting for {n} finished attempt(s); "
                        f"{len(done)} finished, {len(self._attempts) - len(done)} pending"
                    )
                self._cond.wait(remaining)

    def wait_for(
        self, predicate: Callable[[list[Event]], bool], timeout: float = 10.0
    ) -> list[Event]:
        """Block until ``predicate(events)`` is true and return those events.

        Raises ``TimeoutError`` after ``timeout`` seconds, listing the events and
        rejections that did arrive.
        """
        name = getattr(predicate, "__name__", "predicate")
        return self._wait(predicate, timeout, f"{name}(events)")

    def wait_for_count(
        self, n: int, event_type: str | None = None, timeout: float = 10.0
    ) -> list[Event]:
        """Block until at least ``n`` events (of ``event_type``, if given) arrived.

        ``event_type`` is a standard type or a custom event's name.  Returns the matching
        events (all of them, possibly more than ``n``).  Raises ``ValueError`` at once for a
        name no event can have (not matching the schema's ``EventType``), ``TimeoutError``
        after ``timeout`` seconds.
        """
        problem = None if event_type is None else event_type_problem(event_type)
        if problem is not None:
            raise ValueError(f"not an event type: {problem}")

        def matching(events: list[Event]) -> list[Event]:
            if event_type is None:
                return events
            return [e for e in events if e.get("event_type") == event_type]

        what = f"{n} {event_type or ''} event(s)".replace("  ", " ")
        events = self._wait(lambda evs: len(matching(evs)) >= n, timeout, f"at least {what}")
        return matching(events)

    def _wait(
        self, predicate: Callable[[list[Event]], bool], timeout: float, description: str
    ) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                snapshot = copy.deepcopy(self._events)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout, description))
                self._cond.wait(remaining)

    def _timeout_message(self, timeout: float, description: str) -> str:
        lines = [
            f"timed out after {timeout:g}s waiting for {description}; "
            f"{len(self._events)} event(s) arrived" + (":" if self._events else "")
        ]
        shown = self._events[-20:]
        if len(self._events) > len(shown):
            lines.append(f"  ... {len(self._events) - len(shown)} earlier event(s) not shown")
        lines.extend(f"  {_summary(event)}" for event in shown)
        if self._duplicates:
            lines.append(f"{self._duplicates} duplicate event(s) acknowledged, not stored")
        if self._rejected:
            lines.append(f"{len(self._rejected)} request(s) rejected:")
            lines.extend(f"  {status} {reason}" for status, reason in self._rejected[-20:])
        else:
            lines.append("no requests were rejected")
        dropped = sum(1 for a in self._attempts if a.outcome == "dropped")
        if dropped:
            lines.append(f"{dropped} request(s) dropped without an answer")
        return "\n".join(lines)

    # -- called by the request handler

    def _count_preflight(self) -> None:
        with self._cond:
            self._preflights += 1

    def _take_plan(self) -> _Plan:
        """Decide how the arriving request is treated (consumes one of ``times``)."""
        with self._cond:
            failure, delay = self._failure, self._delay
            if failure is not None and self._failure_left is not None:
                self._failure_left -= 1
                if self._failure_left <= 0:
                    self._failure = self._failure_left = None
            if delay > 0 and self._delay_left is not None:
                self._delay_left -= 1
                if self._delay_left <= 0:
                    self._delay, self._delay_left = 0.0, None
            return _Plan(failure, delay, self._wake)

    def _begin_attempt(self, origin: str | None, fetch_mode: str | None) -> int:
        with self._cond:
            self._attempts.append(
                Attempt(time.monotonic(), time.time(), origin=origin, fetch_mode=fetch_mode)
            )
            self._cond.notify_all()
            return len(self._attempts) - 1

    def _update_attempt(self, index: int | None, **changes: Any) -> None:
        with self._cond:
            # clear() may have emptied the list while the request was handled
            if index is not None and index < len(self._attempts):
                self._attempts[index] = replace(self._attempts[index], **changes)
                self._cond.notify_all()

    def _note_body(self, index: int | None, events: list[object]) -> None:
        self._update_attempt(index, events=len(events), event_ids=_event_ids(events))

    def _note_delay(self, index: int | None, seconds: float) -> None:
        self._update_attempt(index, delayed=seconds)

    def _end_attempt(
        self, index: int | None, *, outcome: AttemptOutcome, status: int | None = None
    ) -> None:
        self._update_attempt(index, outcome=outcome, status=status)

    def _settle_attempt(self, index: int | None) -> None:
        """A request that ended without an answer or a drop: the client went away."""
        with self._cond:
            pending = (
                index is not None
                and index < len(self._attempts)
                and self._attempts[index].outcome == "pending"
            )
            if pending:
                assert index is not None
                self._attempts[index] = replace(self._attempts[index], outcome="aborted")
                self._cond.notify_all()

    def _store(self, events: list[Event], attempt: int | None = None) -> tuple[int, int]:
        """Store the events whose ``event_id`` is new; returns ``(accepted, duplicates)``."""
        received_at = time.time()
        fresh: list[Event] = []
        repeats: list[Event] = []
        with self._cond:
            for event in events:
                event_id = event.get("event_id")
                if isinstance(event_id, str):
                    if event_id in self._seen_ids:
                        repeats.append(event)
                        continue
                    self._seen_ids.add(event_id)
                fresh.append(event)
            self._events.extend(fresh)
            self._duplicates += len(repeats)
            if attempt is not None and attempt < len(self._attempts):
                self._attempts[attempt] = replace(
                    self._attempts[attempt], accepted=len(fresh), duplicates=len(repeats)
                )
            self._cond.notify_all()
        if self.echo is not None or self.on_event is not None:
            with self._output_lock:
                for event in fresh:
                    self._output(event, received_at, duplicate=False)
                for event in repeats:
                    self._output(event, received_at, duplicate=True)
        return len(fresh), len(repeats)

    def _output(self, event: Event, received_at: float, *, duplicate: bool) -> None:
        try:
            if self.on_event is not None and not duplicate:
                self.on_event(copy.deepcopy(event))
            if self.echo is not None:
                line = format_event_line(event, received_at)
                self.echo(line + "  (duplicate, not stored)" if duplicate else line)
        except Exception as exc:  # a broken callback must not lose the request
            print(f"aae collector: output callback failed: {exc!r}", file=sys.stderr)

    def _record_rejection(self, status: int, reason: str) -> None:
        with self._cond:
            self._rejected.append((int(status), reason))
            self._cond.notify_all()


# --------------------------------------------------------------------------- CLI


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aae_tracking_plugins.collector",
        description=(
            "Local development collector for landing-page tracking events. Point the "
            "plugin's api_base_url at it and watch PageView / AddToCart / Purchase (and other) "
            "events arrive."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to bind, 0 = any free (default %(default)s)"
    )
    parser.add_argument(
        "--jsonl",
        metavar="FILE",
        help="append every accepted event to FILE as one JSON line (never a duplicate)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not print a line per event (banner still shown)"
    )
    return parser


def _line_writer(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


def main(argv: list[str] | None = None) -> int:
    """Run the collector until Ctrl-C (or SIGTERM); returns the exit status."""
    args = _build_parser().parse_args(argv)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="backslashreplace", line_buffering=True)
    write_line = _line_writer(out)

    jsonl: TextIO | None = None
    if args.jsonl:
        try:
            # backslashreplace: a lone surrogate (JSON "\\ud800" in a string) is
            # written back as that escape, so the line stays valid JSON.
            jsonl = open(  # noqa: SIM115 - closed below
                args.jsonl, "a", encoding="utf-8", errors="backslashreplace"
            )
        except OSError as exc:
            print(
                f"error: cannot open --jsonl file {args.jsonl!r}: {exc.strerror}",
                file=sys.stderr,
            )
            return 2

    def append_jsonl(event: Event) -> None:
        assert jsonl is not None
        jsonl.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        jsonl.flush()

    collector = EventCollector(
        args.host,
        args.port,
        echo=None if args.quiet else write_line,
        on_event=append_jsonl if jsonl is not None else None,
    )

    # SIGTERM (e.g. from a process manager or a test) stops as cleanly as Ctrl-C.
    # Installed before anything is printed, so a caller that waits for the banner
    # and then terminates us cannot hit the default (abrupt) handler.
    stop = threading.Event()
    previous_sigterm: Any = None
    if threading.current_thread() is threading.main_thread():

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return _serve(collector, args, write_line, stop)
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130
    finally:
        collector.stop()
        if jsonl is not None:
            jsonl.close()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


def _serve(
    collector: EventCollector,
    args: argparse.Namespace,
    write_line: Callable[[str], None],
    stop: threading.Event,
) -> int:
    try:
        try:
            collector.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                why = "address already in use (another collector running? try --port 0)"
            else:
                why = exc.strerror or str(exc)
            print(f"error: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
            return 2

        write_line(f"AAE tracking collector listening on {collector.url}")
        write_line(f"  api_base_url to configure: {collector.url}")
        write_line(f"  events endpoint:           POST {collector.events_url}")
        if args.jsonl:
            write_line(f"  appending events to:       {args.jsonl}")
        write_line("  Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    received, duplicates = len(collector.events), collector.duplicates
    collector.stop()
    write_line(f"stopped; {received} event(s) received, {duplicates} duplicate(s) not stored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
