"""What travels on the wire to the collector: its paths, its limits and how a body is read.

The HTTP contract these constants and checks implement is written down in docs/collector-cors.md
("The local collector's answers"); the shape of an event is the JSON Schema of
:mod:`aae_tracking_plugins.core.contract`, not this module's business.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Final

from aae_tracking_plugins.core.contract import STANDARD_EVENT_TYPES

__all__ = [
    "EVENTS_ALLOW",
    "EVENTS_PATH",
    "EVENT_TYPES",
    "HEALTH_ALLOW",
    "HEALTH_PATH",
    "MAX_BATCH_EVENTS",
    "MAX_BODY_BYTES",
    "Event",
    "RefusedBodyError",
    "body_length",
    "content_type_problem",
    "decode_body",
    "event_ids",
    "loads_quietly",
    "payload_events",
]

#: The path the tracker POSTs to, below ``api_base_url``.
EVENTS_PATH: Final = "/api/v1/landing-pages/events"
#: Answers ``ok`` while the collector runs.
HEALTH_PATH: Final = "/healthz"
#: The methods each path answers (the ``Allow`` header, RFC 9110 section 10.2.1); others get 405.
EVENTS_ALLOW: Final = "GET, HEAD, POST, OPTIONS"
HEALTH_ALLOW: Final = "GET, HEAD"
#: Largest accepted request body, in bytes (a larger one is answered 413).
MAX_BODY_BYTES: Final = 64 * 1024
#: Most events in one batch body (the schema's ``maxItems``; a larger batch is answered 422).
MAX_BATCH_EVENTS: Final = 100
#: The event types the tracker sends itself (the schema's ``StandardEventType``). The collector
#: also accepts custom events, whose ``event_type`` is their name (see :mod:`.contract`).
EVENT_TYPES: tuple[str, ...] = STANDARD_EVENT_TYPES

#: One decoded event: a JSON object.
Event = dict[str, Any]

# text/plain is what sendBeacon and a CORS-simple fetch send (no preflight); application/json is
# what other clients (curl, a back office) naturally send.
_ACCEPTED_MEDIA_TYPES = frozenset({"text/plain", "application/json"})


class _InvalidConstantError(ValueError):
    pass


def _reject_constant(name: str) -> object:
    # Python's json accepts NaN, Infinity and -Infinity; JSON (RFC 8259 section 6) does not.
    raise _InvalidConstantError(f"{name} is not valid JSON")


class RefusedBodyError(ValueError):
    """A request body refused for its framing, before it is read; ``status`` is the answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_length(content_length: str | None, transfer_encoding: str | None) -> int:
    """How many body bytes to read, from the ``Content-Length`` and ``Transfer-Encoding`` headers.

    Inputs: the two header values, None when absent. Output: the length in bytes (0 without
    either header: RFC 9112 section 6.3 lets a request without them have no body). Raises
    :class:`RefusedBodyError` with 411 for a chunked body (not supported here: the tracker always
    sends a length), 400 for a ``Content-Length`` that is not a decimal number, 413 for one
    over :data:`MAX_BODY_BYTES`.
    """
    if content_length is None:
        if "chunked" in (transfer_encoding or "").lower():
            raise RefusedBodyError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        return 0
    digits = content_length.strip()
    if not digits.isdigit():
        raise RefusedBodyError(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
    length = int(digits)
    if length > MAX_BODY_BYTES:
        raise RefusedBodyError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body of {length} bytes exceeds the {MAX_BODY_BYTES} byte limit",
        )
    return length


def decode_body(body: bytes) -> object:
    """Decode a request body as strict JSON in UTF-8 (a leading byte order mark is allowed).

    Input: the raw body. Output: the decoded value (any JSON type). Raises
    ``UnicodeDecodeError`` for bytes that are not UTF-8, ``ValueError`` for text that is not
    JSON (including ``NaN`` and ``Infinity``, which RFC 8259 section 6 excludes) and
    ``RecursionError`` for nesting deeper than Python's recursion limit.
    """
    return json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant)


def loads_quietly(body: bytes) -> object:
    """The decoded body, or None when it is not JSON (for the attempts log only); never raises."""
    try:
        return decode_body(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def payload_events(obj: object) -> list[object]:
    """The events a decoded body holds, best effort (for the attempts log and for storing).

    Input: a decoded body. Output: ``obj["events"]`` for a batch (an object with an ``events``
    key; empty when that is not a list), ``[obj]`` for any other object, ``[]`` for anything
    else. The items are not checked: that is :func:`validate_payload`'s job.
    """
    if isinstance(obj, dict) and "events" in obj:
        events = obj["events"]
        return list(events) if isinstance(events, list) else []
    return [obj] if isinstance(obj, dict) else []


def event_ids(events: list[object]) -> tuple[str, ...]:
    """The string ``event_id`` values of ``events``, in order; items without one are skipped."""
    return tuple(
        event["event_id"]
        for event in events
        if isinstance(event, dict) and isinstance(event.get("event_id"), str)
    )


def content_type_problem(header: str | None) -> str:
    """Why a ``Content-Type`` header is refused; empty when it is accepted.

    Input: the header value, None when absent. Accepted: ``text/plain`` or ``application/json``
    (any case) with ``charset`` UTF-8 or no charset (media type syntax: RFC 9110 section 8.3.1).
    Output: a one-line reason for a 415 answer, or ``""``.
    """
    if header is None:
        return "Content-Type is required (text/plain or application/json)"
    media_type, *params = (part.strip() for part in header.split(";"))
    if media_type.lower() not in _ACCEPTED_MEDIA_TYPES:
        return f"unsupported Content-Type {header!r}: use text/plain or application/json"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            if charset not in ("utf-8", "utf8"):
                return f"unsupported charset {charset!r}: use UTF-8"
    return ""
