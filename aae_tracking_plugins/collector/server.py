"""The stored collector as an application: the app factory, and uvicorn serving it.

* :func:`create_app` builds a FastAPI app: the events router (:mod:`.api`), the dashboard at
  ``/`` (:mod:`.dashboard`) and ``GET /healthz`` (200 ``{"status": "ok", "database":
  "sqlite"}`` while the database answers, 503 when not).
* :func:`app_from_environment` is the same, configured by ``AAE_COLLECTOR_*`` variables, for
  ``uvicorn --factory aae_tracking_plugins.collector.server:app_from_environment`` (several
  worker processes: ``--workers N``).
* :class:`EventsShortcut` (installed by :func:`create_app`) hands ``POST`` requests of the events
  path straight to the router's handler, past FastAPI's routing and request machinery: the
  collector's hot path (docs/collector.md, "Load").
* :class:`CollectorServer` runs an app with uvicorn on a socket it binds first (so port 0 gets
  a free port and the URL is known before serving), in the calling thread (:meth:`serve`, what
  ``aae-tracking collect`` does) or in a background thread (:meth:`start`, what tests do).
"""

from __future__ import annotations

import errno
import inspect
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from aae_tracking_plugins.collector.api import events_router, json_response
from aae_tracking_plugins.collector.dashboard import dashboard_router
from aae_tracking_plugins.collector.forwarding import start_forwarding
from aae_tracking_plugins.collector.responses import Health
from aae_tracking_plugins.collector.service import CollectorConfig, EventService
from aae_tracking_plugins.collector.storage import EventStore, StorageUnavailable
from aae_tracking_plugins.collector.wire import EVENTS_PATH, HEALTH_PATH
from aae_tracking_plugins.core.version import __version__

__all__ = [
    "CollectorServer",
    "EventsShortcut",
    "app_from_environment",
    "bind",
    "create_app",
    "method_not_allowed",
]

Handler = Callable[[Request], Awaitable[Response]]


def events_handler(router: APIRouter) -> Handler | None:
    """The handler of ``POST`` on the events path among ``router``'s routes, when it takes the
    request alone (so calling it directly is what FastAPI would do); else None."""
    for route in router.routes:
        if (
            isinstance(route, APIRoute)
            and route.path == EVENTS_PATH
            and "POST" in (route.methods or ())
        ):
            parameters = list(inspect.signature(route.endpoint).parameters.values())
            if [parameter.name for parameter in parameters] == ["request"]:
                return route.endpoint
            return None
    return None


class EventsShortcut:
    """ASGI middleware: ``POST`` of the events path goes straight to ``handler`` (the router's
    own, found by :func:`events_handler`), everything else to ``app``.

    Why: under load FastAPI's per-request machinery (routing, dependency solving, its exception
    and body-limit layers) costs more than checking and storing an event (measured with py-spy
    by benchmarks/collector_load.py's profile). The handler needs none of it: it takes the raw
    request, bounds the body itself and returns its response. Installed inside Starlette's
    ``ServerErrorMiddleware``, so an unexpected error is still a 500 and one log entry.
    """

    def __init__(self, app: ASGIApp, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == EVENTS_PATH:
            response = await self.handler(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """An app's handler of Starlette's ``HTTPException``: a 405 gets an ``Allow`` header that
    lists every method the path answers (RFC 9110, 15.5.6: "the target resource's currently
    supported methods"); Starlette lists only those of the first route whose path matched
    (``POST`` for the events path, which answers ``GET`` and ``OPTIONS`` too). Any other
    status is FastAPI's own answer. Output: the response; raises nothing."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    # Asked of the routes rather than read from them: included routers nest their routes.
    methods = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    allow = ", ".join(methods) or (exc.headers or {}).get("Allow", "")
    return json_response(405, {"detail": "Method Not Allowed"}, {"Allow": allow})


def create_app(
    config: CollectorConfig | None = None, *, store: EventStore | None = None
) -> FastAPI:
    """The collector app.

    Inputs: ``config`` (default: :meth:`CollectorConfig.from_environment`); ``store``, an open
    store to use (default: the configured database, opened and migrated now and closed when
    the app shuts down; a given store stays the caller's). Output: the app; its
    :class:`~.service.EventService` is ``app.state.service``. With the Conversions API
    forwarding configured, its :class:`~.forwarding.Forwarder` (``app.state.forwarder``) runs
    while the app does (started and stopped by its lifespan). Raises what
    :func:`~.storage.open_store` raises.
    """
    config = config if config is not None else CollectorConfig.from_environment()
    owned = store is None
    store = config.open_store() if store is None else store
    service = EventService(store, config)

    forwarder = start_forwarding(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if forwarder is not None:
            forwarder.start()
        yield
        if forwarder is not None:
            await run_in_threadpool(forwarder.stop)
        await run_in_threadpool(service.close)
        if owned:
            await run_in_threadpool(service.store.close)

    app = FastAPI(
        title="AAE tracking collector",
        version=__version__,
        summary="Stores landing-page tracking events, de-duplicated by event_id",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.forwarder = forwarder
    app.add_exception_handler(StarletteHTTPException, method_not_allowed)
    router = events_router(service)
    app.include_router(router)
    app.include_router(dashboard_router(service))
    handler = events_handler(router)
    if handler is not None:
        app.add_middleware(EventsShortcut, handler=handler)

    @app.get(HEALTH_PATH, response_model=Health, tags=["health"])
    async def healthz() -> Response:
        try:
            await run_in_threadpool(service.ping)
        except StorageUnavailable:
            body = {"status": "unavailable", "database": store.dialect}
            headers = {"Retry-After": str(config.retry_after)}
            return json_response(503, body, headers)
        return json_response(200, {"status": "ok", "database": store.dialect})

    return app


def app_from_environment() -> FastAPI:
    """:func:`create_app` configured by the environment (for ``uvicorn --factory``)."""
    return create_app(CollectorConfig.from_environment())


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port), IPv4 or IPv6.

    Raises ``OSError`` with a readable ``strerror`` (e.g. ``address already in use``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=1024, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            exc.strerror = "address already in use (another collector running? try --port 0)"
        raise
    sock.set_inheritable(True)
    return sock


class CollectorServer:
    """uvicorn serving ``app`` on ``host``:``port`` (bound at construction).

    ``url`` is the base URL (``http://127.0.0.1:PORT``) at once. Raises ``OSError`` when the
    address cannot be bound. Use :meth:`serve` (blocks until Ctrl-C or SIGTERM) or
    :meth:`start` / :meth:`stop` (a background thread; also a context manager).
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.socket = bind(host, port)
        self.host = host
        self.port = int(self.socket.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=5,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to configure as ``api_base_url``."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def events_url(self) -> str:
        """The full URL the tracker posts to."""
        return self.url + EVENTS_PATH

    def serve(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (uvicorn's handlers), then close."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self) -> CollectorServer:
        """Serve in a daemon thread; return once it accepts requests. Raises
        ``RuntimeError`` if already started or if it does not start within 10 s."""
        if self._thread is not None:
            raise RuntimeError("collector server already started")
        self._thread = threading.Thread(
            target=self.serve, name=f"collector-{self.port}", daemon=True
        )
        self._thread.start()
        for _ in range(1000):
            if self._server.started or not self._thread.is_alive():
                break
            self._thread.join(0.01)
        if not self._server.started:
            raise RuntimeError("collector server did not start")
        return self

    def request_exit(self) -> None:
        """Ask :meth:`serve` to return: at once if it has started, else as soon as it has
        (safe in a signal handler: it only sets uvicorn's flag)."""
        self._server.should_exit = True

    def stop(self) -> None:
        """Stop serving (requests in flight finish) and close the app; safe to call twice."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()

    def __enter__(self) -> CollectorServer:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"CollectorServer({self.url})"
