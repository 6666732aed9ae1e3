"""A local stand-in of Meta's Graph API ``/{version}/{pixel}/events`` endpoint, for the Conversions
API forwarding tests: a real FastAPI app served by uvicorn on a loopback port, that records every
request it gets and answers as scripted (then 200 with Meta's success body)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from aae_tracking_plugins.collector.server import CollectorServer
from tests.events import make_event

__all__ = ["INVALID_EVENT", "GraphStandIn", "Received", "fresh_event", "graph_standin"]


def fresh_event(kind: str = "PageView", /, **data: Any) -> dict[str, Any]:
    """A valid event of ``kind`` created now (Meta refuses events older than 7 days), with
    ``data`` added to its ``event_data`` (``fbp="fb.1.1.1"``...)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event = make_event(kind, timestamp=now)
    event["event_data"] = {**event["event_data"], "timestamp": now, **data}
    return event


#: Meta's answer to a batch with an invalid event (Graph API error 100, a 2804xxx subcode).
INVALID_EVENT: tuple[int, dict[str, Any], dict[str, str]] = (
    400,
    {
        "error": {
            "message": "Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "error_subcode": 2804003,
            "error_user_title": "Event Timestamp Too Old",
            "error_user_msg": "The timestamp for this event is too far in the past.",
        }
    },
    {},
)


@dataclass(frozen=True)
class Received:
    """One request the stand-in got: when (monotonic seconds), the path, the decoded JSON
    body, and the status it answered."""

    at: float
    path: str
    body: dict[str, Any]
    status: int

    @property
    def event_ids(self) -> list[str]:
        return [event["event_id"] for event in self.body.get("data", [])]


@dataclass
class GraphStandIn:
    """The stand-in: ``script`` holds the answers of the next requests, ``(status, body,
    headers)``; once it is empty, 200 ``{"events_received": N}``, except that a request
    holding an event whose ``event_id`` is in ``refused`` is refused whole, as Meta refuses a
    batch with one invalid event (:data:`INVALID_EVENT`). ``received`` is what came."""

    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    refused: frozenset[str] = frozenset()
    received: list[Received] = field(default_factory=list)
    server: CollectorServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{version}/{pixel}/events")
        async def events(request: Request, version: str, pixel: str) -> Response:
            body = json.loads(await request.body())
            ids = {event.get("event_id") for event in body.get("data", [])}
            with self._lock:
                if self.script:
                    status, answer, headers = self.script.pop(0)
                elif ids & self.refused:
                    status, answer, headers = INVALID_EVENT
                else:
                    received = len(body.get("data", []))
                    status, answer, headers = 200, {"events_received": received}, {}
                self.received.append(Received(time.monotonic(), request.url.path, body, status))
            answer = {**answer, "fbtrace_id": uuid.uuid4().hex}
            return JSONResponse(answer, status_code=status, headers=headers)

        return app

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def delivered(self) -> list[str]:
        """The event ids of the requests answered 2xx, in order (repeats kept)."""
        with self._lock:
            return [i for got in self.received if 200 <= got.status < 300 for i in got.event_ids]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[str]:
        """:meth:`delivered` once it holds ``count`` ids (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.delivered()


@contextmanager
def graph_standin(
    *script: tuple[int, dict[str, Any], dict[str, str]], refused: frozenset[str] = frozenset()
) -> Iterator[GraphStandIn]:
    """A running stand-in on a free loopback port, answering ``script`` first and refusing
    every request that holds an event id of ``refused``."""
    standin = GraphStandIn(list(script), refused)
    standin.server = CollectorServer(standin.app())
    with standin.server:
        yield standin
