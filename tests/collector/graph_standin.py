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

__all__ = ["GraphStandIn", "Received", "fresh_event", "graph_standin"]


def fresh_event(kind: str = "PageView", /, **data: Any) -> dict[str, Any]:
    """A valid event of ``kind`` created now (Meta refuses events older than 7 days), with
    ``data`` added to its ``event_data`` (``fbp="fb.1.1.1"``...)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    event = make_event(kind, timestamp=now)
    event["event_data"] = {**event["event_data"], "timestamp": now, **data}
    return event


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
    headers)``; once it is empty, 200 ``{"events_received": N}``. ``received`` is what came."""

    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: CollectorServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{version}/{pixel}/events")
        async def events(request: Request, version: str, pixel: str) -> Response:
            body = json.loads(await request.body())
            with self._lock:
                status, answer, headers = (
                    self.script.pop(0)
                    if self.script
                    else (200, {"events_received": len(body.get("data", []))}, {})
                )
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
def graph_standin(*script: tuple[int, dict[str, Any], dict[str, str]]) -> Iterator[GraphStandIn]:
    """A running stand-in on a free loopback port, answering ``script`` first."""
    standin = GraphStandIn(list(script))
    standin.server = CollectorServer(standin.app())
    with standin.server:
        yield standin
