"""The collector's HTTP server: a stdlib ``ThreadingHTTPServer`` and its request handler.

HTTP behaviour (docs/collector-cors.md, "The local collector's answers"):

* ``POST`` on the events path with a ``text/plain`` or ``application/json`` body (charset
  UTF-8 or none) of at most 64 KiB holding one event or a batch of 1-100: 200
  ``{"accepted": N, "duplicates": D}``, 400 invalid JSON or ``Content-Length``, 411 chunked
  without a length, 413 too large, 415 other content type, 422 ``{"errors": [...]}`` for
  shape problems (a batch is refused whole) - unless a scripted failure (:mod:`.faults`) says
  otherwise.
* ``OPTIONS`` on the events path (CORS preflight): 204 with the headers of :mod:`.cors`.
* ``GET`` (and ``HEAD``): the events path lists the stored events as JSON, the health path
  answers ``ok``; other paths 404; other methods 405 with ``Allow``.

Every answer carries the CORS headers when the request has an ``Origin``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from aae_tracking_plugins.collector.cors import cors_headers, preflight_headers
from aae_tracking_plugins.collector.faults import Failure, FaultSchedule, Plan
from aae_tracking_plugins.collector.record import DeliveryRecord
from aae_tracking_plugins.collector.wire import (
    EVENTS_ALLOW,
    EVENTS_PATH,
    HEALTH_ALLOW,
    HEALTH_PATH,
    MAX_BODY_BYTES,
    Event,
    RefusedBodyError,
    body_length,
    content_type_problem,
    decode_body,
    loads_quietly,
    payload_events,
)
from aae_tracking_plugins.core.contract import validate_payload

__all__ = ["CollectorServer", "Endpoint", "shutdown_promptly"]


@dataclass(frozen=True)
class Endpoint:
    """What the request handler works with, given by :class:`~.app.EventCollector`.

    ``record`` notes what arrives, ``faults`` scripts the answers, ``keep_alive()`` says
    whether connections stay open after an answer (read per request: tests change it while
    the collector runs), ``store(events, attempt)`` stores valid events and returns
    ``(accepted, duplicates)``.
    """

    record: DeliveryRecord
    faults: FaultSchedule
    keep_alive: Callable[[], bool]
    store: Callable[[list[Event], int | None], tuple[int, int]]


class CollectorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to ``address`` (IPv4 or IPv6) serving ``endpoint``.

    Raises ``OSError`` when the address cannot be bound (e.g. ``EADDRINUSE``).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when a page sends a burst

    def __init__(self, address: tuple[str, int], endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _CollectorHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a closed tab, a dropped test connection) is no error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() does a reverse DNS lookup (socket.getfqdn) that
        # can take seconds on some machines; it is only used for SERVER_NAME.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


def shutdown_promptly(server: socketserver.TCPServer) -> None:
    """``server.shutdown()`` without waiting up to a poll interval.

    ``shutdown()`` only raises a flag that ``serve_forever()`` checks when its
    ``select()`` returns; a throw-away connection makes it return at once.
    Input: a server running ``serve_forever()`` in another thread. Returns when it stopped.
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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status {status}"


def _ignore(status: int, message: str) -> None:
    """Stand-in for an answer that is not sent."""


class _CollectorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aae-collector/1"
    timeout = 15.0  # seconds a client may stall mid-request
    _attempt: int | None = None  # index in the attempts record while a POST is handled

    # -- plumbing

    @property
    def _endpoint(self) -> Endpoint:
        server = self.server
        assert isinstance(server, CollectorServer)
        return server.endpoint

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
        self._endpoint.record.record_rejection(code, message or _phrase(code))
        super().send_error(code, message, explain)

    def _path(self) -> str:
        return urlsplit(self.path).path

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
        """Send a complete response (recording a refusal and ending the attempt first).

        ``unread_body``: the request body was not (fully) read, so the connection is closed
        after the answer, lingering to swallow what the client still sends: closing a socket
        with unread input makes the kernel send a reset, and the client may then see
        ECONNRESET instead of this answer (RFC 9112 section 9.6, "lingering close").
        """
        endpoint = self._endpoint
        if status >= 400:
            endpoint.record.record_rejection(status, reason or _phrase(status))
        if self._attempt is not None:
            endpoint.record.end_attempt(self._attempt, outcome="answered", status=int(status))
        self.send_response(status)
        for name, value in [*cors_headers(self.headers.get("Origin")), *(headers or {}).items()]:
            self.send_header(name, value)
        has_body = status not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED)
        if has_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
        if unread_body or not endpoint.keep_alive():
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
        body = json.dumps({"error": message}).encode()
        self._respond(status, body, headers=headers, reason=message, unread_body=unread_body)

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

    def _body_length(self) -> int:
        """See :func:`.wire.body_length`; raises its ``RefusedBodyError``."""
        return body_length(
            self.headers.get("Content-Length"), self.headers.get("Transfer-Encoding")
        )

    def _skip_body(self) -> bool:
        """Read and drop a small body with a known length; False if it was left unread."""
        try:
            length = self._body_length()
            return len(self.rfile.read(length)) == length
        except (RefusedBodyError, OSError):
            return False

    def _read_body(self) -> tuple[bytes | None, tuple[int, str] | None]:
        """``(body, None)``; ``(None, (status, message))`` when the body is left
        unread because its framing is refused; ``(None, None)`` when the client
        went away mid-body."""
        try:
            length = self._body_length()
        except RefusedBodyError as refused:
            return None, (refused.status, str(refused))
        try:
            body = self.rfile.read(length)
        except OSError:
            return None, None
        return (body, None) if len(body) == length else (None, None)

    # -- methods

    def do_GET(self) -> None:
        path = self._path()
        if path == HEALTH_PATH:
            self._respond(HTTPStatus.OK, b"ok", content_type="text/plain; charset=utf-8")
        elif path == EVENTS_PATH:
            events = self._endpoint.record.events()
            body = json.dumps(events, ensure_ascii=False).encode()
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
        self._endpoint.record.count_preflight()
        headers = preflight_headers(self.headers.get("Access-Control-Request-Private-Network"))
        self._respond(HTTPStatus.NO_CONTENT, headers=headers, unread_body=not self._skip_body())

    def do_POST(self) -> None:
        path = self._path()
        if path != EVENTS_PATH:
            self._not_allowed_or_missing(path)
            return
        endpoint = self._endpoint
        self._attempt = endpoint.record.begin_attempt(
            self.headers.get("Origin"), self.headers.get("Sec-Fetch-Mode")
        )
        try:
            self._post(endpoint.faults.take_plan())
        finally:
            endpoint.record.settle_attempt(self._attempt)
            self._attempt = None

    def _post(self, plan: Plan) -> None:
        """Read the body, hold it as ``plan`` says, then fail on purpose or process it."""
        body, error = self._read_body()
        if body is None and error is None:
            self.close_connection = True
            return  # client went away mid-body
        record = self._endpoint.record
        if body is not None:
            record.note_body(self._attempt, payload_events(loads_quietly(body)))
        if plan.delay > 0:
            record.note_delay(self._attempt, plan.delay)
            plan.wake.wait(plan.delay)
        if plan.failure is not None:
            self._fail_on_purpose(plan.failure, body, error)
        elif error is not None:
            self._respond_error(error[0], error[1], unread_body=True)
        else:
            assert body is not None
            self._process(body)

    def _fail_on_purpose(
        self, failure: Failure, body: bytes | None, error: tuple[int, str] | None
    ) -> None:
        """Answer as the scripted ``failure`` says (``body`` None: it was left unread)."""
        if failure.status is None:  # drop_connections()
            if failure.store and body is not None and error is None:
                self._process(body, answer=False)
            self._drop_connection()
            return
        self._respond_error(
            failure.status,
            f"collector configured to fail with {failure.status}",
            headers={} if failure.retry_after is None else {"Retry-After": failure.retry_after},
            unread_body=body is None,
        )

    def _process(self, body: bytes, *, answer: bool = True) -> None:
        """Check and store a body; answer unless ``answer`` is false (then only store)."""
        respond = self._respond_error if answer else _ignore
        problem = content_type_problem(self.headers.get("Content-Type"))
        if problem:
            respond(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, problem)
            return
        try:
            obj = decode_body(body)
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
        events = [event for event in payload_events(obj) if isinstance(event, dict)]
        accepted, duplicates = self._endpoint.store(events, self._attempt)
        if answer:
            reply = {"accepted": accepted, "duplicates": duplicates}
            self._respond(HTTPStatus.OK, json.dumps(reply).encode())

    def _drop_connection(self) -> None:
        """Close the connection without an answer: a network error to the client."""
        self._endpoint.record.end_attempt(self._attempt, outcome="dropped")
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _not_allowed_or_missing(self, path: str) -> None:
        """405 with ``Allow`` on a known path, 404 elsewhere (RFC 9110 section 15.5.6)."""
        unread_body = not self._skip_body()
        if path == EVENTS_PATH:
            allow = EVENTS_ALLOW
        elif path == HEALTH_PATH:
            allow = HEALTH_ALLOW
        else:
            message = f"no such path: {path}"
            self._respond_error(HTTPStatus.NOT_FOUND, message, unread_body=unread_body)
            return
        message = f"{self.command} not allowed on {path}"
        self._respond_error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            message,
            headers={"Allow": allow},
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
