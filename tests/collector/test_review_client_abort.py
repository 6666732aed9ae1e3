"""A client that goes away while sending its body (a tab closed mid-upload, a dropped
connection) is not a server error: the collector stores nothing of it and prints no traceback
(docs/collector.md: every error is one line; nothing a client sends makes an answer fail).
Before, Starlette's ``ClientDisconnect`` escaped the events handler: an "Exception in ASGI
application" traceback on stderr for every aborted upload."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.collector_helpers import CollectorProcess, listing, post
from tests.events import make_event

pytestmark = pytest.mark.collector


def test_a_client_gone_mid_body_is_no_traceback(tmp_path: Path) -> None:
    with CollectorProcess("--database", f"sqlite:///{tmp_path / 'e.db'}") as collector:
        parts = urlsplit(collector.url)
        assert parts.hostname is not None
        assert parts.port is not None
        for _ in range(3):
            with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
                sock.sendall(
                    b"POST /api/v1/landing-pages/events HTTP/1.1\r\nHost: x\r\n"
                    b'Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n{"event_type"'
                )
                time.sleep(0.2)  # the handler is waiting for the rest of the body
        time.sleep(0.5)
        assert post(collector.url, make_event("PageView", event_id="after-abort")).status == 200
        listed = listing(collector.url).json()
        assert [item["event"]["event_id"] for item in listed] == ["after-abort"]
        code, _out, err = collector.stop()
    assert code == 0
    assert "Traceback" not in err, err
    assert "ClientDisconnect" not in err, err
