"""The dashboard at ``/``: the funnel and the latest events, live, as a FastAPI ``APIRouter``.

``dashboard_router(service)`` answers (docs/collector.md, "Dashboard"):

* ``GET /``: the page. Per landing page, campaign and variant the funnel PageView ->
  AddToCart -> Purchase (unique sessions, step and overall conversion rates, revenue per
  currency, :mod:`.storage.funnel`, the numbers of ``aae-tracking report``) drawn as SVG bars,
  then the latest events, newest first. ``?landing_page_id=`` and ``?campaign_id=`` filter
  both (each must match the contract's ``Id`` pattern: else 422).
* ``GET /dashboard/panels`` (same filters): the live part of the page alone, with a weak
  ``ETag`` of the state it shows (:func:`~.dashboard_view.state_tag`: from the latest events,
  a cheap query); 304, without the funnel query, when ``If-None-Match`` names the current
  one. The page's script polls it (``static/dashboard.min.js``, built from
  ``js/dashboard.js``) every :data:`POLL_MS`.
* With Conversions API forwarding on (:mod:`.capi`), a Forwarding panel: the outbox's
  pending, sent and failed rows and the last error Meta (or the network) gave.
* ``GET /dashboard/assets/dashboard.css`` and ``.../dashboard.js``: the page's style and script.

Access is the listing's (:class:`~.access.ReadAccess`): clients on loopback only, unless
``AAE_COLLECTOR_READ_TOKEN`` is set; then the token, as ``Authorization: Bearer <token>``, or
as the cookie :data:`TOKEN_COOKIE` that ``GET /?token=<token>`` sets once (HttpOnly,
SameSite=Lax, Secure over https) before redirecting to the same URL without the token, so
that it stays out of the address bar, the history and the logs of later requests.

Every page carries a strict Content-Security-Policy (:data:`CSP`: scripts, styles and
fetches from the collector itself only, nothing inline, no framing).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from http import HTTPStatus
from importlib.resources import files
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import escape
from starlette.concurrency import run_in_threadpool

from aae_tracking_plugins.collector.dashboard_view import (
    event_lines,
    funnel_panels,
    render_page,
    render_panels,
    state_tag,
)
from aae_tracking_plugins.collector.service import EventService
from aae_tracking_plugins.collector.storage import EventQuery, FunnelQuery, StorageUnavailable
from aae_tracking_plugins.collector.storage.outbox import OutboxStatus
from aae_tracking_plugins.core.contract import load_schema
from aae_tracking_plugins.core.contract_messages import compiled_pattern

__all__ = ["CSP", "LATEST", "PANELS_PATH", "POLL_MS", "TOKEN_COOKIE", "dashboard_router"]

#: How often the page asks for news, in milliseconds (docs/collector.md: measured cost).
POLL_MS: Final = 1000
#: How many of the latest events the page lists.
LATEST: Final = 25
#: The live part of the page, relative to the page.
PANELS_PATH: Final = "dashboard/panels"
#: The cookie that carries the read token after ``?token=``.
TOKEN_COOKIE: Final = "aae_read_token"
#: The Content-Security-Policy of every dashboard answer (CSP Level 3).
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ID: Final = load_schema()["$defs"]["Id"]["pattern"]
_ID_PATTERN: Final = compiled_pattern(_ID)
# name -> (package folder, file, media type)
_ASSETS: Final = {
    "dashboard.css": ("collector/assets", "dashboard.css", "text/css; charset=utf-8"),
    "dashboard.js": ("static", "dashboard.min.js", "text/javascript; charset=utf-8"),
}

_Filter = Annotated[str | None, Query(description="Only this one (the contract's Id pattern)")]


class _Refused(Exception):  # noqa: N818 - an answer, like the API's Refusal
    """A dashboard request answered with an error page: ``status`` and a one-line ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _page(status: int, body: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        body.encode(),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={**_HEADERS, **(headers or {})},
    )


def _refusal_page(refused: _Refused) -> Response:
    """A one-line error as a small page (the reason is our own text, escaped all the same)."""
    title = HTTPStatus(refused.status).phrase
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<p>{refused.status} {title}: {escape(refused.reason)}</p></html>\n"
    )
    return _page(refused.status, body)


def _filters(landing_page_id: str | None, campaign_id: str | None) -> dict[str, str | None]:
    """The filters, empty ones (an empty form field) as None; raises :class:`_Refused` 422
    naming a value that no event could carry."""
    given = {"landing_page_id": landing_page_id or None, "campaign_id": campaign_id or None}
    for name, value in given.items():
        if value is not None and not _ID_PATTERN.search(value):
            raise _Refused(422, f"{name} must match {_ID}")
    return given


class _Dashboard:
    """The handlers, bound to one :class:`~.service.EventService`."""

    def __init__(self, service: EventService) -> None:
        self.service = service

    def check_access(self, request: Request) -> None:
        """Raise :class:`_Refused` (401/403) unless this client may read (module docstring)."""
        authorization = request.headers.get("authorization")
        cookie = request.cookies.get(TOKEN_COOKIE)
        # The cookie counts unless the request carries a Bearer token itself: a proxy in front
        # that asks for a password (Basic) makes the browser send Authorization: Basic on
        # every request, which is not ours to check.
        if cookie is not None and not (authorization or "").lower().startswith("bearer "):
            authorization = f"Bearer {cookie}"
        client = request.client.host if request.client is not None else None
        status, reason = self.service.reads.refusal(client, authorization)
        if status == 401:
            reason = "a read token is required: open this page once with ?token=<token>"
        if status:
            raise _Refused(status, reason)

    def read(self, filters: Mapping[str, str | None], known: str | None) -> tuple[str, str | None]:
        """``(tag, html)`` of the live part for these filters; ``html`` None when ``tag`` is
        ``known`` (the client has it: the funnel query is skipped). Runs in a worker thread:
        it queries. See :func:`~.dashboard_view.state_tag`."""
        page, campaign = filters["landing_page_id"], filters["campaign_id"]
        events = self.service.latest(EventQuery(page, campaign, limit=LATEST))
        forwarding = self.forwarding()
        tag = state_tag(events, forwarding, time.time())
        if tag == known:
            return tag, None
        rows = self.service.store.funnel(FunnelQuery(landing_page_id=page, campaign_id=campaign))
        return tag, render_panels(funnel_panels(rows), event_lines(events), forwarding)

    def forwarding(self) -> OutboxStatus | None:
        """The Conversions API outbox at a glance (:meth:`~.storage.EventStore.outbox_status`:
        pending, sent and failed rows, the last error), or None when this collector does not
        forward (the panel is left out). Raises what the store raises."""
        if self.service.config.capi is None:
            return None
        return self.service.store.outbox_status()

    async def render(
        self, filters: Mapping[str, str | None], known: str | None = None
    ) -> tuple[str, str | None]:
        """:meth:`read` off the event loop; :class:`_Refused` 503 when the database is
        unavailable."""
        try:
            return await run_in_threadpool(self.read, filters, known)
        except StorageUnavailable:
            raise _Refused(503, "the database is unavailable; this page retries") from None

    async def page(
        self,
        request: Request,
        landing_page_id: _Filter = None,
        campaign_id: _Filter = None,
        token: Annotated[str | None, Query(description="The read token, once")] = None,
    ) -> Response:
        """GET /: the dashboard page (or, with ``?token=``, the cookie and a redirect)."""
        try:
            if token is not None:
                return self.take_token(request, token)
            self.check_access(request)
            filters = _filters(landing_page_id, campaign_id)
            tag, panels = await self.render(filters)
        except _Refused as refused:
            return _refusal_page(refused)
        assert panels is not None  # no tag was known
        query = urlencode({name: value for name, value in filters.items() if value is not None})
        context = {
            "filters": filters,
            "panels_url": PANELS_PATH + (f"?{query}" if query else ""),
            "poll_ms": POLL_MS,
            "etag": tag,
            "assets": "dashboard/assets/",
        }
        return _page(200, render_page(panels, context))

    def take_token(self, request: Request, token: str) -> Response:
        """``?token=``: a right token becomes the cookie, and the browser is sent to the same
        URL without it (303); a wrong one is 401. With no token configured the parameter is
        only dropped (the same redirect, no cookie)."""
        expected = self.service.reads.token
        if expected is not None and not hmac.compare_digest(token.encode(), expected.encode()):
            raise _Refused(401, "wrong read token")
        kept = [item for item in request.query_params.multi_items() if item[0] != "token"]
        query = urlencode(kept)
        response = RedirectResponse(
            request.url.path + (f"?{query}" if query else ""), status_code=303, headers=_HEADERS
        )
        if expected is not None:
            response.set_cookie(
                TOKEN_COOKIE,
                token,
                path=request.scope.get("root_path", "") + "/",
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response

    async def panels(
        self, request: Request, landing_page_id: _Filter = None, campaign_id: _Filter = None
    ) -> Response:
        """GET /dashboard/panels: the live part, 304 when ``If-None-Match`` still holds."""
        try:
            self.check_access(request)
            filters = _filters(landing_page_id, campaign_id)
            tag, panels = await self.render(filters, request.headers.get("if-none-match"))
        except _Refused as refused:
            return _refusal_page(refused)
        if panels is None:
            return Response(status_code=304, headers={**_HEADERS, "ETag": tag})
        return _page(200, panels, {"ETag": tag})

    async def asset(self, name: str) -> Response:
        """GET /dashboard/assets/<name>: the page's CSS or script (404 for anything else)."""
        if name not in _ASSETS:
            return _refusal_page(_Refused(404, "no such dashboard file"))
        folder, file, media_type = _ASSETS[name]
        data = files("aae_tracking_plugins").joinpath(f"{folder}/{file}").read_bytes()
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
        return Response(data, media_type=media_type, headers=headers)


def dashboard_router(service: EventService) -> APIRouter:
    """The dashboard's routes (module docstring), bound to ``service`` (its store and read
    access). Mounted by :func:`~.server.create_app`; the Web Platform may mount it too, with
    ``app.include_router(dashboard_router(service), prefix="/aae")`` (its links are relative).
    """
    dashboard = _Dashboard(service)
    router = APIRouter(tags=["dashboard"], include_in_schema=False)
    router.add_api_route("/", dashboard.page, methods=["GET"])
    router.add_api_route("/" + PANELS_PATH, dashboard.panels, methods=["GET"])
    router.add_api_route("/dashboard/assets/{name}", dashboard.asset, methods=["GET"])
    return router
