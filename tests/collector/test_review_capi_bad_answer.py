"""``post_events`` never raises for what the network or Meta does (its docstring): an endpoint
(or a proxy in front of it) that answers something that is not HTTP is "no answer" (status 0,
retried with backoff), like a refused connection. Before, ``http.client.BadStatusLine`` (an
``HTTPException``, not an ``OSError``) escaped it: the forwarder's round failed with a
generic warning and paused ``max_backoff`` (15 minutes) with its rows left claimed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from aae_tracking_plugins.collector.capi import CapiSettings
from aae_tracking_plugins.collector.forwarding import post_events

pytestmark = pytest.mark.collector


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
