"""Helpers of the stored collector's tests (tests/collector): HTTP calls, a collector in this
process (uvicorn in a thread) or in another (``aae-tracking collect``), hypothesis settings."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, settings

from aae_tracking_plugins.collector.server import CollectorServer, create_app
from aae_tracking_plugins.collector.service import CollectorConfig, EventService
from aae_tracking_plugins.collector.wire import EVENTS_PATH

__all__ = [
    "Answer",
    "CollectorProcess",
    "InProcessCollector",
    "fuzz_settings",
    "listing",
    "post",
    "request",
    "running_collector",
]

AAE_TRACKING = Path(sys.executable).with_name("aae-tracking")
_QUICK = os.environ.get("AAE_QUICK") == "1"
_FUZZ = int(os.environ.get("AAE_FUZZ_EXAMPLES", "0"))


def fuzz_settings(examples: int) -> settings:
    """Reproducible by default; ``AAE_FUZZ_EXAMPLES=N`` a random N-run, ``AAE_QUICK=1`` a
    tenth of the examples (as tests/engine/test_engine_properties.py)."""
    return settings(
        max_examples=_FUZZ or (max(examples // 10, 5) if _QUICK else examples),
        derandomize=not _FUZZ,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: ``status``, ``headers`` (lower-case names) and the raw ``body``."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    base_url: str,
    method: str,
    path: str = EVENTS_PATH,
    body: bytes | str | Iterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    content_type: str | None = "text/plain;charset=UTF-8",
) -> Answer:
    """One request on a new connection (``http.client``: the body and headers exactly as given;
    a str body is sent as UTF-8, an iterable one chunked; ``content_type`` None sends none)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    sent = dict(headers or {})
    if body is not None and content_type is not None:
        sent.setdefault("Content-Type", content_type)
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return Answer(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def post(base_url: str, payload: object, **options: Any) -> Answer:
    """POST ``payload`` encoded as JSON (as the tracker does: ``text/plain``)."""
    return request(base_url, "POST", body=json.dumps(payload), **options)


def listing(base_url: str, query: str = "", **options: Any) -> Answer:
    """GET the stored events (``query`` like ``?limit=5``)."""
    return request(base_url, "GET", EVENTS_PATH + query, **options)


@dataclass
class InProcessCollector:
    """A collector served by uvicorn in a thread of this process: ``url``, its ``service``
    (and so its store) and the ``lines`` it printed."""

    server: CollectorServer
    service: EventService
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def running_collector(database_url: str, **config: Any) -> Iterator[InProcessCollector]:
    """A collector on a free loopback port with ``database_url``; ``config`` overrides
    :class:`CollectorConfig` fields. Stopped (and its store closed) on exit."""
    lines: list[str] = []
    lock = threading.Lock()

    def echo(line: str) -> None:
        with lock:
            lines.append(line)

    settings = {"echo": echo, "warn": echo, **config}
    app = create_app(CollectorConfig(database_url=database_url, **settings))
    server = CollectorServer(app)
    with server:
        yield InProcessCollector(server, app.state.service, lines)


class CollectorProcess:
    """``aae-tracking collect --port 0 ...`` in a process of its own: ``url`` and ``banner``
    (its lines) once it listens; :meth:`stop` (SIGTERM) returns its exit status and what it
    printed after the banner."""

    _LISTENING = re.compile(r"listening on (http://\S+)")

    def __init__(
        self, *arguments: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AAE_COLLECTOR_")}
        self.process = subprocess.Popen(
            [str(AAE_TRACKING), "collect", "--port", "0", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**environment, **(env or {})},
            cwd=cwd,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = self._LISTENING.search(first)
        if match is None:
            rest, errors = self.process.communicate(timeout=30)
            raise RuntimeError(f"collector did not start: {first}{rest}{errors}")
        self.url = match.group(1)
        # The rest of the banner, read now: what this text stream buffered past the first line
        # would be lost to communicate(), which reads the pipe itself.
        self.banner = [first.rstrip("\n")]
        while not self.banner[-1].endswith("Press Ctrl-C to stop."):
            self.banner.append(self.process.stdout.readline().rstrip("\n"))

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM (unless it ended), then ``(exit status, stdout after the first line,
        stderr)``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err

    def __enter__(self) -> CollectorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)
