"""The Conversions API request must not follow a redirect: urllib turns a POST answered 301,
302 or 303 into a GET without the body, so the events never reach Meta; when the place it
is sent to answers that GET with 200 (a proxy's or a portal's page), the rows were marked
``sent``: lost without a word. A redirect is now the answer itself (not 2xx: not sent)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from aae_tracking_plugins.collector.capi import CapiSettings
from aae_tracking_plugins.collector.forwarding import post_events

pytestmark = pytest.mark.collector


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
