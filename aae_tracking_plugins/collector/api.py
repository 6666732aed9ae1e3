"""The events API as a FastAPI ``APIRouter``: what the Web Platform mounts with ``include_router``.

``events_router(service)`` answers on ``/api/v1/landing-pages/events`` (docs/collector.md,
"The API"):

* ``POST``: one event or a batch ``{"events": [...]}`` as ``text/plain`` (what the tracker's
  ``fetch(..., {keepalive: true})`` and ``navigator.sendBeacon`` send: CORS-simple, no
  preflight) or ``application/json``. 200 ``{"accepted": N, "duplicates": D}``; 400, 413, 415,
  422 ``{"error": ..., "errors": [{"field": ..., "message": ...}]}`` as :mod:`.intake` says;
  403 for a page origin not allowed; 503 with ``Retry-After`` when the database is unavailable
  (nothing stored: the tracker keeps the event and retries). With ``Authorization: Bearer
  <write token>`` the events are stored as server-sent; a wrong token 401, any token while
  none is configured 403 (:class:`~.access.WriteAccess`).
* ``OPTIONS``: the CORS preflight (204), with Private Network Access when asked (:mod:`.access`).
* ``GET``: the stored events, newest first,
  ``[{"received_at": ..., "origin": "browser"|"server", "event": {...}}]``,
  filtered by ``landing_page_id``, ``campaign_id``, ``event_type``, at most ``limit`` (default
  100, at most 1000); only for loopback clients or with the read token.

Error bodies are encoded as ASCII JSON, so no text a client sent can make an answer fail.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from aae_tracking_plugins.collector.capi import RequestContext, client_address
from aae_tracking_plugins.collector.intake import FieldProblem, Refusal, read_events
from aae_tracking_plugins.collector.responses import Accepted, ErrorBody, StoredEventOut
from aae_tracking_plugins.collector.service import EventService
from aae_tracking_plugins.collector.storage import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    EventQuery,
    StorageUnavailable,
)
from aae_tracking_plugins.collector.wire import EVENTS_PATH, MAX_BODY_BYTES
from aae_tracking_plugins.core.contract import load_schema
from aae_tracking_plugins.core.contract_messages import compiled_pattern

__all__ = ["events_router", "json_response", "read_body"]

_DEFS: Final = load_schema()["$defs"]
# The query filters and the schema definitions their values must match.
_FILTERS: Final = {
    "landing_page_id": compiled_pattern(_DEFS["Id"]["pattern"]),
    "campaign_id": compiled_pattern(_DEFS["Id"]["pattern"]),
    "event_type": compiled_pattern(_DEFS["EventType"]["pattern"]),
}
_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorBody, "description": why}
    for status, why in {
        400: "Not UTF-8, not JSON, a repeated key, or ill-formed text (each field named)",
        401: "A wrong write token (server-sent events)",
        403: "A page origin that is not allowed, or a write token while none is configured",
        413: f"A body over {MAX_BODY_BYTES} bytes",
        415: "Not text/plain or application/json in UTF-8",
        422: "An event the contract refuses (each field named)",
        503: "The database is unavailable: retry after Retry-After seconds",
    }.items()
}

_READ_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorBody, "description": "A read token is configured and missing or wrong"},
    403: {"model": ErrorBody, "description": "Not on loopback and no read token is configured"},
    422: {"model": ErrorBody, "description": "A filter or limit out of bounds (each named)"},
    503: _ERRORS[503],
}


def json_response(
    status: int, body: object, headers: dict[str, str] | None = None, *, ascii_only: bool = False
) -> Response:
    """A JSON answer that no cache keeps (``Cache-Control: no-store``)."""
    content = json.dumps(body, ensure_ascii=ascii_only, separators=(",", ":"))
    return Response(
        content.encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


async def read_body(request: Request) -> bytes:
    """The request body, at most :data:`~.wire.MAX_BODY_BYTES`; raises :class:`~.intake.Refusal`
    413 as soon as a ``Content-Length`` or the bytes read say it is longer, 400 when the client
    disconnects before the body's end."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Refusal(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body of {declared} bytes exceeds the {MAX_BODY_BYTES} byte limit",
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Refusal(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"body exceeds the {MAX_BODY_BYTES} byte limit",
                )
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nothing to store and nobody to answer, but no
        # server error either (uncaught, it was a traceback per aborted upload).
        raise Refusal(
            HTTPStatus.BAD_REQUEST, "the client left before sending its whole body"
        ) from None
    return b"".join(chunks)


def _refusal_response(refusal: Refusal, headers: dict[str, str]) -> Response:
    return json_response(refusal.status, refusal.as_json(), headers, ascii_only=True)


def _unavailable(service: EventService, headers: dict[str, str]) -> Response:
    headers = headers | {"Retry-After": str(service.config.retry_after)}
    body = {"error": "database unavailable, retry later", "errors": []}
    return json_response(HTTPStatus.SERVICE_UNAVAILABLE, body, headers)


def _query(params: dict[str, str | None], limit: str | None) -> EventQuery:
    """The :class:`EventQuery` of the listing's parameters; raises :class:`Refusal` 422."""
    problems = [
        FieldProblem(
            name,
            f"{name} must match {_DEFS['Id' if name != 'event_type' else 'EventType']['pattern']}",
        )
        for name, value in params.items()
        if value is not None and not _FILTERS[name].search(value)
    ]
    count = DEFAULT_LIMIT
    if limit is not None:
        if limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT:
            count = int(limit)
        else:
            problems.append(FieldProblem("limit", f"limit must be 1-{MAX_LIMIT}"))
    if problems:
        raise Refusal(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid query", tuple(problems))
    return EventQuery(**params, limit=count)


class _Endpoints:
    """The handlers of the events path, bound to one :class:`~.service.EventService`."""

    def __init__(self, service: EventService) -> None:
        self.service = service

    async def receive(self, request: Request) -> Response:
        """POST: check the origin, read and check the body, store its events."""
        service = self.service
        origin = request.headers.get("origin")
        if origin is not None and not service.origins.allows(origin):
            refusal = Refusal(HTTPStatus.FORBIDDEN, f"origin {origin!r} is not allowed")
            service.refused(refusal.status, refusal.error, None)
            return _refusal_response(refusal, {"Vary": "Origin"})
        headers = service.origins.headers(origin)
        context = _context(service, request)
        if isinstance(context, Refusal):
            service.refused(context.status, context.error, None)
            return _refusal_response(context, headers)
        try:
            body = await read_body(request)
            events = read_events(body, request.headers.get("content-type"))
        except Refusal as refusal:
            first = refusal.problems[0].message if refusal.problems else None
            service.refused(refusal.status, refusal.error, first)
            return _refusal_response(refusal, headers)
        received_at = datetime.now(timezone.utc)
        try:
            accepted, duplicates = await service.ingest_async(events, received_at, context)
        except StorageUnavailable:
            return _unavailable(service, headers)
        return json_response(200, {"accepted": accepted, "duplicates": duplicates}, headers)

    async def preflight(self, request: Request) -> Response:
        """OPTIONS: the CORS preflight of an allowed origin (403 for any other)."""
        origin = request.headers.get("origin")
        if origin is None or not self.service.origins.allows(origin):
            refusal = Refusal(HTTPStatus.FORBIDDEN, f"origin {origin!r} is not allowed")
            return _refusal_response(refusal, {"Vary": "Origin"})
        private = request.headers.get("access-control-request-private-network")
        headers = self.service.origins.preflight_headers(origin, private)
        return Response(status_code=204, headers=headers)

    async def listing(
        self,
        request: Request,
        landing_page_id: Annotated[str | None, Query(description="Only this landing page")] = None,
        campaign_id: Annotated[str | None, Query(description="Only this campaign")] = None,
        event_type: Annotated[str | None, Query(description="Only this event type")] = None,
        limit: Annotated[
            str | None,
            Query(description=f"At most this many (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})"),
        ] = None,
    ) -> Response:
        """GET: the stored events, newest first, for loopback clients or the read token."""
        service = self.service
        headers = service.origins.headers(None)
        client = request.client.host if request.client is not None else None
        status, reason = service.reads.refusal(client, request.headers.get("authorization"))
        if status:
            return _refusal_response(Refusal(status, reason), headers)
        filters = {"landing_page_id": landing_page_id, "campaign_id": campaign_id}
        try:
            query = _query(filters | {"event_type": event_type}, limit)
            found = await run_in_threadpool(service.latest, query)
        except Refusal as refusal:
            return _refusal_response(refusal, headers)
        except StorageUnavailable:
            return _unavailable(service, headers)
        listed = [
            {"received_at": _iso(item.received_at), "origin": item.origin, "event": item.event}
            for item in found
        ]
        return json_response(200, listed, headers)


def _context(service: EventService, request: Request) -> RequestContext | Refusal | None:
    """Who sent the request (:class:`~.capi.RequestContext`), or the refusal of a wrong or
    unexpected write token; None for a browser's request while nothing needs more (no
    forwarding: the hot path stays as it was)."""
    authorization = request.headers.get("authorization")
    if authorization is None and service.config.capi is None:
        return None
    origin, status, reason = service.writes.origin(authorization)
    if status:
        return Refusal(status, reason)
    peer = request.client.host if request.client is not None else None
    forwarded_for = request.headers.get("x-forwarded-for")
    return RequestContext(
        origin,
        request.headers.get("user-agent"),
        client_address(peer, forwarded_for, service.config.trust_proxy),
    )


def events_router(service: EventService) -> APIRouter:
    """The router of the events path, bound to ``service`` (its store, origins, read access).

    The Web Platform mounts it with ``app.include_router(events_router(service))``; the OpenAPI
    document shows the event contract's JSON Schema as the request body.
    """
    endpoints = _Endpoints(service)
    router = APIRouter(tags=["events"])
    body = {
        "required": True,
        "description": "One event or a batch: the event contract (docs/events.md)",
        "content": {
            media: {"schema": load_schema()} for media in ("text/plain", "application/json")
        },
    }
    router.add_api_route(
        EVENTS_PATH,
        endpoints.receive,
        methods=["POST"],
        summary="Receive one event or a batch",
        response_model=Accepted,
        responses=_ERRORS,
        openapi_extra={"requestBody": body},
    )
    router.add_api_route(
        EVENTS_PATH, endpoints.preflight, methods=["OPTIONS"], include_in_schema=False
    )
    router.add_api_route(
        EVENTS_PATH,
        endpoints.listing,
        methods=["GET"],
        summary="The stored events, newest first",
        response_model=list[StoredEventOut],
        responses=_READ_ERRORS,
    )
    return router


def _iso(moment: datetime) -> str:
    """``2026-03-02T09:15:04.120512Z``: UTC with microseconds."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
