"""Local development collector for landing-page tracking events.

The inline tracker POSTs events to ``{api_base_url}/api/v1/landing-pages/events``
with ``navigator.sendBeacon`` (``Content-Type: text/plain;charset=UTF-8``) or a
``fetch(..., {keepalive: true, mode: "no-cors"})`` fallback.  This module is a
small, dependency-free stand-in for the real API:

* :func:`validate_event` checks one event against the wire contract and returns
  human-readable problems (empty list when valid).
* :class:`EventCollector` is an HTTP server (stdlib ``ThreadingHTTPServer``) that
  accepts valid events, answers CORS preflights, and lets tests block until
  events arrive (:meth:`EventCollector.wait_for`).
* ``python -m aae_tracking_plugins.collector`` runs it from the command line and
  prints one line per accepted event.

HTTP behaviour of ``EVENTS_PATH``:

* ``POST`` with ``text/plain`` or ``application/json`` body (charset UTF-8 or
  none) of at most 64 KiB: 204 stored, 400 invalid JSON, 413 too large,
  415 other content type, 422 ``{"errors": [...]}`` for shape problems.
* ``OPTIONS`` (CORS preflight): 204 with the ``Access-Control-*`` headers, incl.
  ``Access-Control-Allow-Private-Network: true`` when asked for.
* ``GET``: JSON list of accepted events.

Every response to a request with an ``Origin`` header echoes that origin in
``Access-Control-Allow-Origin`` together with ``Access-Control-Allow-Credentials:
true`` (``sendBeacon`` always sends credentials, so ``*`` would be refused) and
``Vary: Origin``.  ``GET /healthz`` answers ``ok``; other paths 404; other
methods 405.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import errno
import io
import json
import math
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, TextIO
from urllib.parse import urlsplit

__all__ = [
    "EVENTS_PATH",
    "EVENT_TYPES",
    "HEALTH_PATH",
    "MAX_BODY_BYTES",
    "EventCollector",
    "format_event_line",
    "main",
    "validate_event",
]

EVENTS_PATH = "/api/v1/landing-pages/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 64 * 1024
EVENT_TYPES: tuple[str, ...] = ("PageView", "AddToCart", "Purchase")

Event = dict[str, Any]

_TOP_LEVEL_KEYS: tuple[str, ...] = (
    "event_type",
    "landing_page_id",
    "campaign_id",
    "session_id",
    "event_data",
    "user_agent",
    "screen_resolution",
    "timestamp",
)
_EVENT_DATA_KEYS: dict[str, tuple[str, ...]] = {
    "PageView": ("url", "referrer", "timestamp"),
    "AddToCart": ("button_text", "button_id", "timestamp"),
    "Purchase": ("value", "currency", "order_id", "timestamp"),
}

# ASCII-only character classes on purpose: ``\d`` would also match other digits.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SESSION_RE = re.compile(r"sess_[0-9]+_[a-z0-9]+")
_RESOLUTION_RE = re.compile(r"[0-9]+x[0-9]+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

_ACCEPTED_MEDIA_TYPES = frozenset({"text/plain", "application/json"})
_POLL_SECONDS = 0.5  # serve_forever() checks for shutdown this often when idle


# --------------------------------------------------------------------------- validation


def _show(value: object, limit: int = 80) -> str:
    """``repr`` of a value, shortened for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _type_name(value: object) -> str:
    """The JSON name of a decoded JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _check_keys(path: str, obj: Mapping[str, object], allowed: tuple[str, ...]) -> list[str]:
    prefix = f"{path}." if path else ""
    problems = [f"{prefix}{key} is required (missing)" for key in allowed if key not in obj]
    problems.extend(
        f"{prefix}{key} is not allowed (unknown key)" for key in obj if key not in allowed
    )
    return problems


def _check_string(path: str, value: object) -> list[str]:
    if not isinstance(value, str):
        return [f"{path} must be a string, got {_show(value)}"]
    return []


def _check_optional_string(path: str, value: object) -> list[str]:
    if value is not None and not isinstance(value, str):
        return [f"{path} must be a string or null, got {_show(value)}"]
    return []


def _check_id(path: str, value: object, *, nullable: bool = False) -> list[str]:
    if value is None and nullable:
        return []
    if not isinstance(value, str):
        kind = "a string or null" if nullable else "a string"
        return [f"{path} must be {kind}, got {_show(value)}"]
    if not _ID_RE.fullmatch(value):
        return [
            f"{path} must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,63}}$ "
            f"(1-64 chars: letters, digits, _ . : -), got {_show(value)}"
        ]
    return []


def _check_pattern(path: str, value: object, pattern: re.Pattern[str], what: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{path} must be a string, got {_show(value)}"]
    if not pattern.fullmatch(value):
        return [f"{path} must be {what}, got {_show(value)}"]
    return []


def _check_timestamp(path: str, value: object) -> list[str]:
    if not isinstance(value, str):
        return [f"{path} must be an ISO-8601 UTC timestamp string, got {_show(value)}"]
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return [f"{path} must be an ISO-8601 UTC timestamp, got {_show(value)}"]
    if parsed.utcoffset() != timedelta(0):
        return [f"{path} must be in UTC (end with Z or +00:00), got {_show(value)}"]
    return []


def _check_http_url(path: str, value: object) -> list[str]:
    if not isinstance(value, str):
        return [f"{path} must be an http(s) URL string, got {_show(value)}"]
    bad = f"{path} must be an http(s) URL, got {_show(value)}"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return [bad]
    try:
        parts = urlsplit(value)
    except ValueError:
        return [bad]
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return [bad]
    return []


def _check_amount(path: str, value: object) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [f"{path} must be a number >= 0, got {_show(value)}"]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path} must be a finite number, got {_show(value)}"]
    if value < 0:
        return [f"{path} must be >= 0, got {_show(value)}"]
    return []


def _check_event_data(event_type: str, data: Mapping[str, object]) -> list[str]:
    problems = _check_keys("event_data", data, _EVENT_DATA_KEYS[event_type])

    def field(name: str, check: Callable[[str, object], list[str]]) -> None:
        if name in data:
            problems.extend(check(f"event_data.{name}", data[name]))

    field("timestamp", _check_timestamp)
    if event_type == "PageView":
        field("url", _check_http_url)
        field("referrer", _check_string)
    elif event_type == "AddToCart":
        field("button_text", _check_string)
        field("button_id", _check_optional_string)
    else:  # Purchase
        field("value", _check_amount)
        field(
            "currency",
            lambda p, v: _check_pattern(p, v, _CURRENCY_RE, "3 uppercase letters"),
        )
        field("order_id", _check_optional_string)
    return problems


def validate_event(obj: object) -> list[str]:
    """Check one decoded event against the wire contract.

    Returns human-readable problems, each naming the offending field, e.g.
    ``"event_data.currency must be 3 uppercase letters, got 'usd'"``; an empty
    list means the event is valid.  Unknown keys (top level and in
    ``event_data``) are problems too.

    ``landing_page_id`` and ``campaign_id`` (which may be null) must match
    ``^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$``; ``button_id`` and ``order_id`` come
    from the page (an element id, a shop's order number) and only need to be a
    string or null.
    """
    if not isinstance(obj, dict):
        return [f"event must be a JSON object, got {_type_name(obj)}"]
    problems = _check_keys("", obj, _TOP_LEVEL_KEYS)

    event_type = obj.get("event_type")
    known_type = isinstance(event_type, str) and event_type in EVENT_TYPES
    if "event_type" in obj and not known_type:
        problems.append(
            "event_type must be one of 'PageView', 'AddToCart', 'Purchase', "
            f"got {_show(event_type)}"
        )

    def field(name: str, check: Callable[[str, object], list[str]]) -> None:
        if name in obj:
            problems.extend(check(name, obj[name]))

    field("landing_page_id", _check_id)
    field("campaign_id", lambda p, v: _check_id(p, v, nullable=True))
    field(
        "session_id",
        lambda p, v: _check_pattern(p, v, _SESSION_RE, "like sess_<digits>_<a-z0-9>"),
    )
    field("user_agent", _check_string)
    field(
        "screen_resolution",
        lambda p, v: _check_pattern(p, v, _RESOLUTION_RE, "<width>x<height>, e.g. 1920x1080"),
    )
    field("timestamp", _check_timestamp)

    if "event_data" in obj:
        data = obj["event_data"]
        if not isinstance(data, dict):
            problems.append(f"event_data must be a JSON object, got {_type_name(data)}")
        elif known_type:
            assert isinstance(event_type, str)
            problems.extend(_check_event_data(event_type, data))
    return problems


# --------------------------------------------------------------------------- formatting


def _clean(value: object) -> str:
    """Text for a log line: never spans lines, control characters escaped."""
    text = value if isinstance(value, str) else json.dumps(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _event_details(event: Mapping[str, Any]) -> str:
    data = event.get("event_data")
    if not isinstance(data, dict):
        return ""
    event_type = event.get("event_type")
    if event_type == "PageView":
        details = f"url={_clean(data.get('url'))}"
        referrer = data.get("referrer")
        if referrer:
            details += f"  referrer={_clean(referrer)}"
        return details
    if event_type == "AddToCart":
        text = data.get("button_text")
        shown = ascii(text) if isinstance(text, str) and not text.isprintable() else repr(text)
        return f"button_text={shown}  button_id={_clean(data.get('button_id'))}"
    if event_type == "Purchase":
        return (
            f"value={_clean(data.get('value'))}  currency={_clean(data.get('currency'))}"
            f"  order_id={_clean(data.get('order_id'))}"
        )
    return ""


def format_event_line(event: Mapping[str, Any], received_at: float | None = None) -> str:
    """One log line for an accepted event, e.g.

    ``12:00:01  PageView    lp_123 / camp_456  sess_1_abc  url=http://example.test/``

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


def _reject_constant(name: str) -> object:
    raise _InvalidConstantError(f"{name} is not valid JSON")


class _CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when a page sends a burst

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
        self.send_response(status)
        self._cors_headers()
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        has_body = status not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        if has_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
        if unread_body:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if has_body and body and self.command != "HEAD":
            self.wfile.write(body)
        if unread_body:
            self._linger()

    def _respond_error(self, status: int, message: str, *, unread_body: bool = False) -> None:
        self._respond(
            status,
            json.dumps({"error": message}).encode(),
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
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        self._respond(HTTPStatus.NO_CONTENT, headers=headers, unread_body=not self._skip_body())

    def do_POST(self) -> None:
        path = self._path()
        if path != EVENTS_PATH:
            self._not_allowed_or_missing(path)
            return
        collector = self._collector
        if collector.fail_with is not None:
            status = collector.fail_with
            self._respond_error(
                status,
                f"collector configured to fail with {status}",
                unread_body=not self._skip_body(),
            )
            return

        length = self._content_length()
        if length is None:
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                self._respond_error(
                    HTTPStatus.LENGTH_REQUIRED, "Content-Length is required", unread_body=True
                )
                return
            length = 0
        if length < 0:
            self._respond_error(HTTPStatus.BAD_REQUEST, "invalid Content-Length", unread_body=True)
            return
        if length > MAX_BODY_BYTES:
            self._respond_error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the {MAX_BODY_BYTES} byte limit",
                unread_body=True,
            )
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return  # client went away mid-body

        problem = _content_type_problem(self.headers.get("Content-Type"))
        if problem:
            self._respond_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, problem)
            return
        try:
            text = body.decode("utf-8-sig")
            obj = json.loads(text, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            self._respond_error(HTTPStatus.BAD_REQUEST, f"invalid JSON: {exc}")
            return

        errors = validate_event(obj)
        if errors:
            self._respond(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                json.dumps({"errors": errors}).encode(),
                reason="; ".join(errors),
            )
            return
        assert isinstance(obj, dict)
        collector._accept(obj)
        self._respond(HTTPStatus.NO_CONTENT)

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


class EventCollector:
    """A local events endpoint that stores what the tracker sends.

    ``EventCollector()`` binds 127.0.0.1 on a free port when started::

        with EventCollector() as collector:
            configure(api_base_url=collector.url)
            ...
            events = collector.wait_for_count(1, "PageView")

    ``echo`` receives one line per accepted event (see :func:`format_event_line`);
    ``on_event`` receives each accepted event dict (the CLI uses it for
    ``--jsonl``).  ``fail_with`` (an error status, 400-599) makes every ``POST``
    answer with that status without storing anything; the attribute may be
    changed while the collector runs.  Callbacks run on the request threads, one
    at a time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        echo: Callable[[str], None] | None = None,
        fail_with: int | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        if fail_with is not None and not 400 <= fail_with <= 599:
            raise ValueError(f"fail_with must be an HTTP error status (400-599), got {fail_with!r}")
        self.host = host
        self.port = port
        self.echo = echo
        self.fail_with = fail_with
        self.on_event = on_event
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._rejected: list[tuple[int, str]] = []
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

    def clear(self) -> None:
        """Forget accepted events and rejections."""
        with self._cond:
            self._events.clear()
            self._rejected.clear()

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

        Returns the matching events (all of them, possibly more than ``n``).
        """
        if event_type is not None and event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event_type {event_type!r}; expected one of {EVENT_TYPES}")

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
        if self._rejected:
            lines.append(f"{len(self._rejected)} request(s) rejected:")
            lines.extend(f"  {status} {reason}" for status, reason in self._rejected[-20:])
        else:
            lines.append("no requests were rejected")
        return "\n".join(lines)

    # -- called by the request handler

    def _accept(self, event: Event) -> None:
        received_at = time.time()
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()
        if self.echo is None and self.on_event is None:
            return
        with self._output_lock:
            try:
                if self.on_event is not None:
                    self.on_event(copy.deepcopy(event))
                if self.echo is not None:
                    self.echo(format_event_line(event, received_at))
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
            "plugin's api_base_url at it and watch PageView / AddToCart / Purchase "
            "events arrive."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to bind, 0 = any free (default %(default)s)"
    )
    parser.add_argument(
        "--jsonl", metavar="FILE", help="append every accepted event to FILE as one JSON line"
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
            jsonl = open(args.jsonl, "a", encoding="utf-8")  # noqa: SIM115 - closed below
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
    received = len(collector.events)
    collector.stop()
    write_line(f"stopped; {received} event(s) received")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
